"""`maestro materialize`: run the graph's jobs partition by partition, in the Dagster instance."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import typer

from maestro_pipeline.cli import app
from maestro_pipeline.keys import GRAPH_JOBS, MARKET_DATA_JOB, WALK_FORWARD_JOB, month_of_partition

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _run_partition(job_name: str, key: str | None) -> tuple[str | None, bool, str]:
    """Execute one partition of a job in this process, recorded in $DAGSTER_HOME's instance."""
    from dagster import DagsterInstance

    from maestro_pipeline.definitions import defs

    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            partition_key=key,
            instance=instance,
            raise_on_error=False,
            run_config=QUIET_LOGS,
            tags={"maestro/launched_by": "maestro materialize"},
        )
    return key, result.success, result.run_id


@app.command("materialize")
def materialize_command(
    job: list[str] = typer.Option(
        None, "--job", help=f"job(s) to run, in order; default: {', '.join(GRAPH_JOBS)}"
    ),
    latest: bool = typer.Option(False, help="only the latest month of market data"),
    partition: list[str] = typer.Option(None, help="partition key(s) of a single job"),
    workers: int = typer.Option(1, min=1, help="partitions run side by side (processes)"),
) -> None:
    """Materialize every partition of the graph's jobs, one run each, visible in the Dagster UI.

    Runs execute in this process against the instance in $DAGSTER_HOME; re-running is
    idempotent. For a daemon-driven backfill use the UI or `dagster job backfill`.
    """
    from dagster import DagsterInstance
    from rich.progress import Progress

    from maestro_pipeline.definitions import defs

    jobs = job or list(GRAPH_JOBS)
    if partition and len(jobs) != 1:
        raise typer.BadParameter("--partition needs exactly one --job", param_hint="--partition")
    # Create the instance's databases here, before workers race to migrate them.
    with DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        if WALK_FORWARD_JOB in jobs:
            from maestro_pipeline.defs.strategies import record_strategy_versions

            # Studies record the code version they ran on as their input: record it first.
            record_strategy_versions(instance)
    # Spawned workers: forking a process that already runs Dagster's threads is unsafe.
    pool = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 1
        else None
    )
    failed: list[str] = []
    for name in jobs:
        try:
            job_def = defs.resolve_job_def(name)
        except Exception as exc:
            raise typer.BadParameter(f"unknown job {name!r}", param_hint="--job") from exc
        partitions_def = job_def.partitions_def
        keys: list[str | None] = [None]
        if partitions_def is not None:
            known = partitions_def.get_partition_keys()
            keys = list(partition or known)
            unknown = sorted(set(keys) - set(known))
            if unknown:
                raise typer.BadParameter(f"unknown partition key(s) {unknown}", "--partition")
            if latest and name == MARKET_DATA_JOB:
                last_month = max(month_of_partition(k) for k in keys)
                keys = [k for k in keys if month_of_partition(k) == last_month]
        started = time.perf_counter()
        with Progress() as progress:
            task = progress.add_task(name, total=len(keys))
            if pool is None:
                outcomes = (_run_partition(name, key) for key in keys)
            else:
                futures = [pool.submit(_run_partition, name, key) for key in keys]
                outcomes = (future.result() for future in as_completed(futures))
            for key, success, run_id in outcomes:
                if not success:
                    failed.append(f"{name} {key or ''}".strip())
                    progress.console.print(f"[red]failed[/red] {name} {key} (run {run_id})")
                progress.advance(task)
        done = len(keys) - sum(f.startswith(name) for f in failed)
        elapsed = time.perf_counter() - started
        typer.echo(f"{name}: {done}/{len(keys)} partitions in {elapsed:.1f} s")
    if pool is not None:
        pool.shutdown()
    if failed:
        raise typer.Exit(1)
