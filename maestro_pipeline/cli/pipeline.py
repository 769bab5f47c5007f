"""`maestro materialize`: run a partitioned job partition by partition, in the Dagster instance."""

from __future__ import annotations

import time

import typer
from rich.progress import Progress

from maestro_pipeline.cli import app


@app.command("materialize")
def materialize_command(
    job: str = typer.Option("market_data_job", help="Dagster job to run"),
    latest: bool = typer.Option(False, help="only the latest partition of each symbol"),
    partition: list[str] = typer.Option(None, help="partition key(s); default: all"),
) -> None:
    """Materialize every partition of a job, one run per partition, visible in the Dagster UI.

    Runs execute in this process against the instance in $DAGSTER_HOME; re-running is
    idempotent. For a daemon-driven backfill use the UI or `dagster job backfill`.
    """
    from dagster import DagsterInstance

    from maestro_pipeline.definitions import defs

    job_def = defs.resolve_job_def(job)
    partitions_def = job_def.partitions_def
    if partitions_def is None:
        raise typer.BadParameter(f"job {job!r} is not partitioned", param_hint="--job")
    keys = partition or partitions_def.get_partition_keys()
    if latest:
        last_month = max(k.split("|")[0] for k in keys)
        keys = [k for k in keys if k.split("|")[0] == last_month]
    unknown = sorted(set(keys) - set(partitions_def.get_partition_keys()))
    if unknown:
        raise typer.BadParameter(f"unknown partition key(s) {unknown}", param_hint="--partition")
    instance = DagsterInstance.get()
    failed: list[str] = []
    started = time.perf_counter()
    with Progress(transient=False) as progress:
        task = progress.add_task(f"{job}", total=len(keys))
        for key in keys:
            result = job_def.execute_in_process(
                partition_key=key,
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                tags={"maestro/launched_by": "maestro materialize"},
            )
            if not result.success:
                failed.append(key)
                progress.console.print(f"[red]failed[/red] {key} (run {result.run_id})")
            progress.advance(task)
    elapsed = time.perf_counter() - started
    typer.echo(f"{job}: {len(keys) - len(failed)}/{len(keys)} partitions in {elapsed:.1f} s")
    if failed:
        raise typer.Exit(1)
