"""Real PostgreSQL and Redis servers on 127.0.0.1 for tests and benchmarks, started and stopped
here from Debian's packages (`make servers` installs them)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.processes import stop, wait_until


class ServerUnavailable(RuntimeError):
    """The server's binaries are not installed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerUnavailable(f"PostgreSQL's {name} is not installed (run `make servers`)")
    return found[-1]


@contextlib.contextmanager
def postgres_server(database: str = "optuna", *, durable: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL cluster; yields the SQLAlchemy URL of an empty ``database``.

    ``durable=False`` turns fsync off: tests need the protocol and the locking, not the disk.
    As root, the server runs as the ``postgres`` user, which PostgreSQL requires.
    """
    initdb, postgres = _postgres_bin("initdb"), _postgres_bin("postgres")
    root = Path(tempfile.mkdtemp(prefix="maestro-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    port = free_port()
    process = None
    try:
        subprocess.run(
            [
                *as_postgres,
                initdb,
                "-D",
                str(data),
                "-U",
                "maestro",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
                    "-c", "max_connections=200"]  # fmt: skip
        if not durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
        log = root / "server.log"
        with log.open("wb") as sink:  # A file, not a pipe: a full pipe would stall the server.
            process = subprocess.Popen(
                [*as_postgres, postgres, "-D", str(data), "-p", str(port), *settings],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        conninfo = f"host=127.0.0.1 port={port} user=maestro dbname=postgres"
        wait_until(
            lambda: psycopg.connect(conninfo, connect_timeout=1).close() or True,
            "PostgreSQL accepting connections",
            process=process,
            log=log,
        )
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        yield f"postgresql+psycopg://maestro@127.0.0.1:{port}/{database}"
    finally:
        if process is not None:
            with contextlib.suppress(AssertionError):  # killed then: the data is thrown away
                stop(process)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A Redis server without persistence; yields its URL (database 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable("redis-server is not installed (run `make servers`)")
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="maestro-redis-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    try:
        wait_until(ping, "Redis answering PING", process=process, log=log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(AssertionError):
            stop(process)
        log.unlink(missing_ok=True)
