"""`maestro materialize`: the graph's jobs as backfills, many partitions per Dagster run."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any

import typer

from maestro_pipeline.cli import app
from maestro_pipeline.keys import GRAPH_JOBS, MARKET_DATA_JOB, WALK_FORWARD_JOB, month_of_partition

# Partitions per run: market data is milliseconds per partition, so all of it runs at once; a
# study takes seconds, so studies go in batches that spread over the worker processes.
PARTITIONS_PER_RUN = {MARKET_DATA_JOB: 10_000}
DEFAULT_PARTITIONS_PER_RUN = 6


def _warm_worker(verbose: bool) -> None:
    """Import the definitions once per worker process, before its first batch."""
    from maestro_pipeline.definitions import defs
    from maestro_pipeline.defs.backfill import quiet_third_party

    quiet_third_party(verbose)
    defs.resolve_all_job_defs()


@app.command("materialize")
def materialize_command(
    job: list[str] = typer.Option(
        None, "--job", help=f"job(s) to run, in order; default: {', '.join(GRAPH_JOBS)}"
    ),
    latest: bool = typer.Option(False, help="only the latest month of market data"),
    partition: list[str] = typer.Option(None, help="partition key(s) of a single job"),
    missing: bool = typer.Option(
        False, "--missing", help="only partitions never materialized (a second run is a no-op)"
    ),
    workers: int = typer.Option(1, min=1, help="runs side by side (processes)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="third-party logs and warnings"),
) -> None:
    """Materialize the graph's jobs, recorded in the Dagster instance ($DAGSTER_HOME).

    Each job's partitions run as a backfill of few runs (a range of partitions each), so the
    Dagster UI shows them as they finish; re-running is idempotent. For a daemon-driven
    backfill use the UI or `dagster job backfill`.
    """
    from dagster import DagsterInstance
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from maestro_pipeline.definitions import defs
    from maestro_pipeline.defs.backfill import missing_keys, plan_batches, quiet_third_party

    quiet_third_party(verbose)
    jobs = job or list(GRAPH_JOBS)
    if partition and len(jobs) != 1:
        raise typer.BadParameter("--partition needs exactly one --job", param_hint="--partition")
    console = Console(stderr=True)
    batch_id = uuid.uuid4().hex[:8]
    # Create the instance's databases here, before workers race to migrate them.
    with DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        if WALK_FORWARD_JOB in jobs:
            from maestro_pipeline.defs.strategies import record_strategy_versions

            # Studies record the code version they ran on as their input: record it first.
            record_strategy_versions(instance)
    # Spawned workers: forking a process that already runs Dagster's threads is unsafe.
    pool = (
        ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_worker,
            initargs=(verbose,),
        )
        if workers > 1
        else None
    )
    failed: list[str] = []
    ran_any = False
    try:
        for name in jobs:
            try:
                job_def = defs.resolve_job_def(name)
            except Exception as exc:
                raise typer.BadParameter(f"unknown job {name!r}", param_hint="--job") from exc
            partitions_def = job_def.partitions_def
            keys: list[str] = []
            if partitions_def is not None:
                known = partitions_def.get_partition_keys()
                keys = list(partition or known)
                unknown = sorted(set(keys) - set(known))
                if unknown:
                    raise typer.BadParameter(f"unknown partition key(s) {unknown}", "--partition")
                if latest and name == MARKET_DATA_JOB:
                    last_month = max(month_of_partition(k) for k in keys)
                    keys = [k for k in keys if month_of_partition(k) == last_month]
            if missing:
                with DagsterInstance.get() as instance:
                    todo = missing_keys(instance, job_def, keys if partitions_def else [None])
                if partitions_def is not None:
                    keys = todo
                    if not keys:
                        typer.echo(f"{name}: every partition is materialized")
                        continue
                elif not todo and not ran_any:
                    typer.echo(f"{name}: materialized, and nothing upstream changed")
                    continue
            size = PARTITIONS_PER_RUN.get(name, DEFAULT_PARTITIONS_PER_RUN)
            batches = plan_batches(partitions_def, keys, size, _runs_alone(name))
            total = len(keys) if partitions_def is not None else 1
            started = time.perf_counter()
            done = 0
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console, transient=False) as progress:
                task = progress.add_task(name, total=total, rate="")
                outcomes = _run_batches(pool, name, batches, batch_id, verbose)
                for batch, (success, run_id) in outcomes:
                    covered = len(set(batch.keys) & set(keys)) if batch.keys else 1
                    if not success:
                        what = batch.partition_key or (
                            f"{batch.start} .. {batch.end}" if batch.start else ""
                        )
                        failed.append(f"{name} {what}".strip())
                        typer.echo(f"failed {name} {what} (run {run_id})")
                    else:
                        done += covered
                    elapsed = time.perf_counter() - started
                    progress.update(
                        task, advance=covered, rate=f"{done / max(elapsed, 1e-9):.1f}/s"
                    )
            ran_any = True
            elapsed = time.perf_counter() - started
            typer.echo(
                f"{name}: {done}/{total} partitions in {elapsed:.1f} s ({len(batches)} runs)"
            )
    finally:
        if pool is not None:
            pool.shutdown()
    if failed:
        raise typer.Exit(1)


def _runs_alone(job_name: str) -> Any:
    """Studies of user strategies run one per run; the built-ins pass their checks in CI."""
    if job_name != WALK_FORWARD_JOB:
        return None
    from maestro_pipeline.catalog import load_catalog
    from maestro_pipeline.keys import StudyKey

    catalog = load_catalog()

    def alone(key: str) -> bool:
        entry = catalog.entry(StudyKey.from_partition_key(key).strategy)
        return entry is None or entry.kind != "builtin"

    return alone


def run_batch(job_name: str, batch: Any, batch_id: str, verbose: bool = False) -> tuple[bool, str]:
    """Execute one batch as one run of ``job_name`` in this process ($DAGSTER_HOME's instance)."""
    from dagster import DagsterInstance

    from maestro_pipeline.definitions import defs
    from maestro_pipeline.defs.backfill import (
        BATCH_TAG,
        QUIET_LOGS,
        VERBOSE_LOGS,
        quiet_third_party,
    )

    quiet_third_party(verbose)
    job = defs.resolve_job_def(job_name)
    tags = {**batch.tags, BATCH_TAG: batch_id, "maestro/launched_by": "maestro materialize"}
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=batch.partition_key,
            raise_on_error=False,
            run_config=VERBOSE_LOGS if verbose else QUIET_LOGS,
            tags=tags,
        )
    return result.success, result.run_id


def _run_batches(
    pool: ProcessPoolExecutor | None, name: str, batches: list, batch_id: str, verbose: bool
) -> Iterator[tuple[Any, tuple[bool, str]]]:
    """(batch, (success, run_id)) as each run finishes: in worker processes or in this one."""
    if pool is None:
        for batch in batches:
            yield batch, run_batch(name, batch, batch_id, verbose)
        return
    futures: dict[Future, Any] = {
        pool.submit(run_batch, name, batch, batch_id, verbose): batch for batch in batches
    }
    for future in as_completed(futures):
        yield futures[future], future.result()
