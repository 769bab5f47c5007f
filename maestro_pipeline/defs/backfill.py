"""Backfills executed in this process or a few workers: many partitions per Dagster run.

A Dagster run costs a process start, imports and storage writes; the work of one market-data
partition is milliseconds and a study a few seconds. ``plan_batches`` groups the partitions to
materialize into key ranges (rectangles of a multi-partitioned job's dimensions), each run as
ONE Dagster run whose assets loop over ``context.partition_keys`` (the same runs a single-run
backfill policy makes): ``Batch.tags`` are the run's tags. Executed in process
(``maestro materialize``), a batch is recorded in the instance like any run, so the Dagster UI
lists it with its per-partition materializations.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
VERBOSE_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
BATCH_TAG = "maestro/batch"
# Third-party loggers that report every fold study and every figure at INFO.
CHATTY_LOGGERS = ("optuna", "matplotlib", "numba", "quantstats", "urllib3", "alembic")


@dataclass(frozen=True)
class Batch:
    """Partitions materialized by one run: the key range and the keys it covers."""

    start: str | None
    end: str | None
    keys: tuple[str, ...]

    @property
    def partition_key(self) -> str | None:
        """The key of a one-partition batch (run as an ordinary partition run)."""
        return self.start if self.start is not None and self.start == self.end else None

    @property
    def tags(self) -> dict[str, str]:
        if self.start is None or self.end is None or self.partition_key is not None:
            return {}
        return {
            ASSET_PARTITION_RANGE_START_TAG: self.start,
            ASSET_PARTITION_RANGE_END_TAG: self.end,
        }


def quiet_third_party(verbose: bool = False) -> None:
    """Third-party INFO logs and warnings off (``verbose`` keeps them)."""
    if verbose:
        return
    import optuna

    # Optuna configures its own handler at INFO on first use: set its verbosity, not only the
    # logger's level.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")


def missing_keys(
    instance: dg.DagsterInstance, job: dg.JobDefinition, keys: Iterable[str | None]
) -> list[str | None]:
    """The keys some asset of ``job`` has never been materialized for (``None``: unpartitioned)."""
    missing: list[str | None] = []
    asset_keys = list(job.asset_layer.executable_asset_keys)
    done: set[str] | None = None
    for asset_key in asset_keys:
        materialized = set(instance.get_materialized_partitions(asset_key))
        done = materialized if done is None else done & materialized
    for key in keys:
        if key is None:
            if any(instance.get_latest_materialization_event(a) is None for a in asset_keys):
                missing.append(None)
        elif key not in (done or set()):
            missing.append(key)
    return missing


def plan_batches(
    partitions_def: dg.PartitionsDefinition | None,
    keys: Sequence[str],
    max_per_batch: int,
    alone: Callable[[str], bool] | None = None,
) -> list[Batch]:
    """Contiguous ranges covering ``keys``, at most ``max_per_batch`` partitions each.

    Multi-partitioned jobs are cut along their largest dimension into chunks; each chunk's range
    is the bounding rectangle of its keys in every dimension, so a range may re-run a few keys
    already done (materializations are idempotent). Keys for which ``alone`` is true run one
    per run (a user strategy's studies: its blocking checks then stop only its own runs).
    """
    if partitions_def is None:
        return [Batch(None, None, ())]
    single = [Batch(k, k, (k,)) for k in keys if alone is not None and alone(k)]
    keys = [k for k in keys if alone is None or not alone(k)]
    if not keys:
        return single
    if not isinstance(partitions_def, dg.MultiPartitionsDefinition):
        ordered = [k for k in partitions_def.get_partition_keys() if k in set(keys)]
        chunks = [ordered[i : i + max_per_batch] for i in range(0, len(ordered), max_per_batch)]
        return [Batch(chunk[0], chunk[-1], tuple(chunk)) for chunk in chunks] + single
    dimensions = partitions_def.partitions_defs
    order = {d.name: d.partitions_def.get_partition_keys() for d in dimensions}
    parsed = [partitions_def.get_partition_key_from_str(k) for k in keys]
    # Cut along the dimension with the most distinct keys; the others stay whole.
    split = max(dimensions, key=lambda d: len({p.keys_by_dimension[d.name] for p in parsed}))
    values = [
        v for v in order[split.name] if v in {p.keys_by_dimension[split.name] for p in parsed}
    ]
    per_value = max(1, len(parsed) // max(1, len(values)))
    step = max(1, max_per_batch // per_value)
    batches = []
    for i in range(0, len(values), step):
        chunk = set(values[i : i + step])
        members = [p for p in parsed if p.keys_by_dimension[split.name] in chunk]
        bounds = {}
        for dimension in dimensions:
            present = {p.keys_by_dimension[dimension.name] for p in members}
            ordered = [v for v in order[dimension.name] if v in present]
            bounds[dimension.name] = (ordered[0], ordered[-1])
        start = dg.MultiPartitionKey({name: low for name, (low, _) in bounds.items()})
        end = dg.MultiPartitionKey({name: high for name, (_, high) in bounds.items()})
        covered = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
        batches.append(Batch(str(start), str(end), tuple(str(k) for k in covered)))
    return batches + single
