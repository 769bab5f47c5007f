"""`maestro worker`: join the walk-forward fold studies of a shared Optuna storage."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

import typer
from rich.console import Console

from maestro_pipeline.cli import app
from maestro_pipeline.optimization.stopping import StopSignals, WorkerStopped


@app.command("worker")
def worker_command(
    storage: str = typer.Option(
        ...,
        envvar="MAESTRO_OPTUNA_STORAGE",
        help="the shared Optuna storage, e.g. postgresql+psycopg://user:pw@host:5432/optuna",
    ),
    study: list[str] = typer.Option(None, help="only these study names (default: any open one)"),
    idle_timeout: float = typer.Option(
        0.0, help="seconds to keep looking for new studies once none is open (0: exit at once)"
    ),
    heartbeat: int = typer.Option(
        30, min=1, help="seconds between trial heartbeats; a silent worker's trials are rerun"
    ),
    poll: float = typer.Option(1.0, min=0.05, help="seconds between looks for open studies"),
    quiet: bool = typer.Option(False, "--quiet", help="print errors only"),
) -> None:
    """Optimize alongside the other workers on every open fold study of STORAGE.

    Start it on as many cores and machines as there are to spare, with the same bars (the same
    --data file path or the same lake under MAESTRO_DATA_DIR) as the run that made the
    studies: `maestro walk-forward --storage URL` or the `walk_forward_study` asset on a shared
    storage. Between them the workers spend each fold's trial budget exactly once.

    SIGTERM or Ctrl-C stops it: at once while it starts, otherwise once the batch in flight is
    told (a second signal fails that batch, and the other workers run it again).
    """
    stderr = Console(stderr=True)

    def say(text: str) -> None:
        if not quiet:  # soft_wrap: one line per message however long the host name
            stderr.print(text, soft_wrap=True)

    name = f"{socket.gethostname()}:{os.getpid()}"
    # Handlers first: a worker asked to stop while it imports or connects stops right there.
    with StopSignals() as stop:
        try:
            say(f"worker {name} starting")
            _serve(storage, study, idle_timeout, heartbeat, poll, say, stderr, stop)
        except WorkerStopped as exc:
            say(f"worker {name} stopped ({stop.reason or exc})")


def _serve(
    storage: str,
    study: list[str] | None,
    idle_timeout: float,
    heartbeat: int,
    poll: float,
    say: Callable[[str], None],
    stderr: Console,
    stop: StopSignals,
) -> None:
    # Everything a trial needs (Optuna, the engine, vectorbt) is imported and the storage has
    # answered before the worker says it is looking for studies: from then on it joins a new
    # study within one --poll interval.
    import optuna

    from maestro_pipeline.cli.inputs import load_study_bars
    from maestro_pipeline.optimization.coordination import worker_id
    from maestro_pipeline.optimization.storages import open_storage
    from maestro_pipeline.optimization.workers import serve_open_studies

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        # One storage object (one connection pool) for listing and for every study.
        shared = open_storage(storage, heartbeat_interval=heartbeat)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--storage") from None
    if shared is None:
        raise typer.BadParameter("an in-memory storage cannot be shared", param_hint="--storage")

    def load(source: Mapping[str, Any]) -> Any:
        try:
            return load_study_bars(dict(source))
        except typer.BadParameter as exc:  # the recorded bars are gone or unreadable here
            raise ValueError(exc.format_message()) from None

    def done(fold_study: Any, summary: Any) -> None:
        say(
            f"{fold_study.study_name}: {summary.n_evaluated_here} trials here, "
            f"{summary.n_finished}/{summary.n_trials} in the study"
        )

    def skipped(fold_study: Any, exc: Exception) -> None:
        stderr.print(f"[red]skipped[/red] {fold_study.study_name}: {exc}")

    say(f"worker {worker_id()} looking for open studies")
    with stop.serving():
        serve_open_studies(
            shared,
            load,
            names=set(study) if study else None,
            idle_timeout=idle_timeout,
            poll_seconds=poll,
            on_done=done,
            on_skip=skipped,
            should_stop=stop.requested,
        )
