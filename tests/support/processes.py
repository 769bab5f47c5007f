"""Processes started by tests: wait for the signal that they are ready, never for a fixed time.

A Python process of this project imports for seconds (15 s and more without bytecode caches,
longer on a busy machine), so a test that sleeps a fixed time or gives a start-up a few seconds
races against the machine. These helpers wait for what the process itself says (a line in its
log, a port that answers, a row in a database), bounded by limits of minutes that only a hung
process reaches.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# A process's start-up (imports, connections, loading code) on a slow, busy machine.
READY_SECONDS = 300.0
# A process asked to stop: it ends its current unit of work and exits.
STOP_SECONDS = 120.0
# A whole command run to completion (a small study, a backfill) including its start-up.
COMMAND_SECONDS = 900.0


def wait_until(
    probe: Callable[[], T],
    what: str,
    *,
    timeout: float = READY_SECONDS,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.1,
) -> T:
    """Call ``probe`` until it returns a true value (an exception counts as not yet); return it.

    Fails naming ``what`` (with the end of ``log``) if ``process`` exits first or if ``timeout``
    seconds pass.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            found = probe()
            if found:
                return found
        except Exception as exc:  # not ready yet: connection refused, file not there...
            last_error = exc
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"{what}: the process exited with {process.returncode} first{_tail(log)}"
            )
        if time.monotonic() > deadline:
            cause = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s{cause}{_tail(log)}")
        time.sleep(interval)


def wait_for_line(
    log: Path, text: str, process: subprocess.Popen, *, timeout: float = READY_SECONDS
) -> str:
    """The first line of ``log`` (the process's output file) that contains ``text``."""

    def probe() -> str | None:
        for line in log.read_text(errors="replace").splitlines():
            if text in line:
                return line
        return None

    return wait_until(
        probe, f"{process.args!r} never wrote {text!r}", timeout=timeout, process=process, log=log
    )


def stop(
    process: subprocess.Popen,
    *,
    signum: int = signal.SIGTERM,
    timeout: float = STOP_SECONDS,
    group: bool = False,
) -> int:
    """Ask ``process`` to stop; its return code once it has.

    With ``group``, the signal goes to its whole process group (started with
    ``start_new_session=True``), and the children it leaves behind are waited for too. A
    process frozen with SIGSTOP is resumed first, or the request would wait forever. What has
    not stopped within ``timeout`` is killed and the test fails: that is a bug of its own.
    """

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, sig)
            elif process.poll() is None:
                process.send_signal(sig)

    send(signum)
    send(signal.SIGCONT)
    deadline = time.monotonic() + timeout
    try:
        process.wait(timeout=timeout)
        while group and _group_alive(process.pid):
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(process.args, timeout)
            time.sleep(0.1)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()
        raise AssertionError(
            f"{process.args!r} did not stop within {timeout:.0f} s of being asked"
        ) from None
    return process.returncode


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies left to an init that may never
    reap them do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _tail(log: Path | None, size: int = 3000) -> str:
    if log is None or not log.exists():
        return ""
    return f"\n--- end of {log} ---\n{log.read_text(errors='replace')[-size:]}"
