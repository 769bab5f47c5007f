"""`maestro worker`: join the walk-forward fold studies of a shared Optuna storage."""

from __future__ import annotations

import json
import time
import warnings

import typer
from rich.console import Console

from maestro_pipeline.cli import app


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
    """
    import optuna

    from maestro_pipeline.cli.inputs import load_study_bars
    from maestro_pipeline.engine.optimize import WORKER_ID
    from maestro_pipeline.engine.study_workers import open_fold_studies, work_on_fold_study
    from maestro_pipeline.storage.optuna_storage import optuna_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stderr = Console(stderr=True)
    try:
        spec = optuna_storage(storage)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--storage") from None
    if spec is None:
        raise typer.BadParameter("an in-memory storage cannot be shared", param_hint="--storage")
    # One storage object (one connection pool) for listing and for every study.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        shared = (
            optuna.storages.RDBStorage(spec, heartbeat_interval=heartbeat)
            if isinstance(spec, str)
            else spec
        )
    names = set(study) if study else None
    if not quiet:
        stderr.print(f"worker {WORKER_ID} looking for open studies")
    bars_cache: dict[str, object] = {}
    skipped: set[str] = set()
    idle_since = time.monotonic()
    while True:
        open_studies = [s for s in open_fold_studies(shared, names) if s.study_name not in skipped]
        for fold_study in open_studies:
            key = json.dumps(fold_study.source, sort_keys=True)
            try:
                if key not in bars_cache:
                    bars_cache[key] = load_study_bars(fold_study.source)
                summary = work_on_fold_study(shared, fold_study, bars_cache[key])
            except (ValueError, KeyError, typer.BadParameter) as exc:
                skipped.add(fold_study.study_name)
                stderr.print(f"[red]skipped[/red] {fold_study.study_name}: {exc}")
                continue
            if not quiet:
                stderr.print(
                    f"{fold_study.study_name}: {summary.n_evaluated_here} trials here, "
                    f"{summary.n_finished}/{summary.n_trials} in the study"
                )
        if open_studies:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_timeout:
            return
        time.sleep(poll)
