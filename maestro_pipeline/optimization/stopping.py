"""Stopping a worker on request (SIGTERM, SIGINT) without stranding a trial.

A worker that holds trials (asked, being evaluated, not yet told) and dies leaves them RUNNING
until their heartbeat goes stale; one stopped in the middle of ``ask()`` can even leave a trial
that never had a heartbeat and that nobody recovers. So a request to stop is honoured at once
only while nothing can be held (starting: imports, connecting), and otherwise at the next point
where the worker holds no trial: before its next batch, or between looks for open studies.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any


class WorkerStopped(BaseException):
    """The worker was asked to stop.

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception`` on its way out (in
    Optuna, SQLAlchemy or here) turns it into a failed study or a retried batch.
    """


class StopSignals:
    """SIGTERM and SIGINT as requests to stop, for the duration of a ``with`` block.

    Outside ``serving()`` a signal raises ``WorkerStopped`` where the process is. Inside it,
    the first signal only sets ``requested()``, which the serving code checks where it holds no
    trial; a second signal raises at once (the batch in flight is then failed and rerun by
    others). Once it has raised, the previous handlers are back. Handlers can only be installed
    from the main thread; elsewhere this does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._requested: str | None = None
        self._serving = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def requested(self) -> bool:
        """Whether a stop was asked for (the ``should_stop`` of the serving code)."""
        return self._requested is not None

    @property
    def reason(self) -> str | None:
        """The signal that asked to stop (``"SIGTERM"``), or None."""
        return self._requested

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Defer a stop to the serving code's safe points while the block runs."""
        self._serving = True
        try:
            if self._requested is not None:
                raise WorkerStopped(self._requested)
            yield
        finally:
            self._serving = False

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        first = self._requested is None
        self._requested = signal.Signals(signum).name
        if self._serving and first:
            return
        # Stopping now. Any further signal acts as it would without us (SIGTERM terminates),
        # so that one insisting while the worker cleans up is not turned into a traceback.
        self.__exit__()
        raise WorkerStopped(self._requested)


def stop_if_asked(should_stop: Callable[[], bool] | None) -> None:
    """Raise ``WorkerStopped`` if ``should_stop()`` says so."""
    if should_stop is not None and should_stop():
        raise WorkerStopped("asked to stop")


def pause(seconds: float, should_stop: Callable[[], bool] | None, step: float = 0.1) -> None:
    """Sleep ``seconds``, raising ``WorkerStopped`` within ``step`` of a request to stop."""
    deadline = time.monotonic() + seconds
    while True:
        stop_if_asked(should_stop)
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))
