"""The strategies' code as an observed asset: each strategy's source fingerprint is the data
version of its partition, so editing a strategy marks its studies (and only those) stale.

The catalog is read when the code location loads (``Reload definitions`` picks up new,
edited and removed strategy files). Versions reach the instance as observations: the sensor
``strategy_code_versions`` records every version it has not seen (within a minute of a
reload), and ``maestro materialize`` records them before it runs studies.
"""

from __future__ import annotations

import warnings

import dagster as dg

from maestro_pipeline.catalog import Catalog, load_catalog
from maestro_pipeline.defs.partitions import strategy_partitions
from maestro_pipeline.keys import STRATEGY_CODE_ASSET

GROUP = "studies"
VERSION_TAG = "dagster/data_version"


def current_versions(catalog: Catalog | None = None) -> dict[str, str]:
    """{strategy: version} of every partition whose strategy loads."""
    catalog = catalog or load_catalog()
    partitions = set(strategy_partitions.get_partition_keys())
    return {
        entry.name: entry.version
        for entry in catalog.entries
        if entry.name in partitions and entry.version is not None
    }


def recorded_version(instance: dg.DagsterInstance, strategy: str) -> str | None:
    """The version last observed for ``strategy`` in the instance."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(STRATEGY_CODE_ASSET), asset_partitions=[strategy]
        ),
        limit=1,
    ).records
    if not records:
        return None
    observation = records[0].asset_observation
    return observation.tags.get(VERSION_TAG) if observation is not None else None


def observation(strategy: str, version: str, source: str) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=STRATEGY_CODE_ASSET,
        partition=strategy,
        tags={VERSION_TAG: version},
        metadata={"version": version, "source": source},
    )


def unrecorded_observations(instance: dg.DagsterInstance) -> list[dg.AssetObservation]:
    """Observations of the strategies whose current version the instance has not recorded."""
    catalog = load_catalog()
    events = []
    for name, version in current_versions(catalog).items():
        if recorded_version(instance, name) != version:
            entry = catalog.entry(name)
            events.append(observation(name, version, entry.source if entry else ""))
    return events


def record_strategy_versions(instance: dg.DagsterInstance) -> int:
    """Record the versions the instance has not seen (before studies run); how many."""
    events = unrecorded_observations(instance)
    for event in events:
        instance.report_runless_asset_event(event)
    return len(events)


def _description(catalog: Catalog) -> str:
    text = (
        "The source code of each strategy (built-in, MAESTRO_STRATEGY_PATH files, packages of "
        "the maestro.strategies entry-point group); its data version is the code's fingerprint."
    )
    broken = catalog.broken()
    if broken:
        text += " Not loaded: " + "; ".join(entry.error or entry.name for entry in broken)
    return text


_catalog = load_catalog()


def _observe() -> dg.DataVersionsByPartition:
    return dg.DataVersionsByPartition(current_versions())


with warnings.catch_warnings():
    # Observable source assets are marked beta; they are how Dagster versions external inputs.
    warnings.simplefilter("ignore", dg.BetaWarning)
    strategy_code = dg.observable_source_asset(
        name=STRATEGY_CODE_ASSET,
        partitions_def=strategy_partitions,
        group_name=GROUP,
        description=_description(_catalog),
    )(_observe)


@dg.sensor(
    name="strategy_code_versions",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records the version of every strategy whose code changed since last seen.",
)
def strategy_code_versions(context: dg.SensorEvaluationContext):
    events = unrecorded_observations(context.instance)
    if not events:
        return dg.SkipReason("no strategy's code changed")
    return dg.SensorResult(asset_events=events)


strategy_assets = [strategy_code]
strategy_sensors = [strategy_code_versions]
