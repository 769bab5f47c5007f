"""The strategy_code asset: one partition per strategy, versions recorded once by the sensor."""

from __future__ import annotations

import dagster as dg

from maestro_pipeline.catalog import load_catalog
from maestro_pipeline.defs.partitions import strategy_partitions, study_partitions
from maestro_pipeline.defs.strategies import (
    current_versions,
    recorded_version,
    strategy_code,
    strategy_code_versions,
)
from maestro_pipeline.keys import STRATEGY_DIM


def test_strategy_partitions_are_the_catalog_and_the_studies_strategy_dimension() -> None:
    assert strategy_partitions.get_partition_keys() == load_catalog().names()
    dimension = study_partitions.get_partitions_def_for_dimension(STRATEGY_DIM)
    assert dimension.get_partition_keys() == strategy_partitions.get_partition_keys()
    assert strategy_code.partitions_def == strategy_partitions


def test_the_sensor_records_each_version_once() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance)
        result = strategy_code_versions(context)
        assert isinstance(result, dg.SensorResult)
        observed = {e.partition: e.tags["dagster/data_version"] for e in result.asset_events}
        assert observed == current_versions() and len(observed) == 22
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        assert recorded_version(instance, "ema_cross") == observed["ema_cross"]
        again = strategy_code_versions(dg.build_sensor_context(instance=instance))
        assert isinstance(again, dg.SkipReason)
