"""Backfills in few runs: key ranges that cover the partitions, and runs that materialize them."""

from __future__ import annotations

import dagster as dg

from maestro_pipeline.defs.backfill import missing_keys, plan_batches
from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.partitions import market_data_partitions, study_partitions
from maestro_pipeline.defs.resources import build_resources


def test_market_data_goes_in_one_run_covering_every_partition():
    keys = market_data_partitions.get_partition_keys()
    batches = plan_batches(market_data_partitions, keys, 10_000)
    assert len(batches) == 1
    assert set(batches[0].keys) == set(keys)


def test_study_batches_cover_every_study_once_and_stay_small():
    keys = study_partitions.get_partition_keys()
    batches = plan_batches(study_partitions, keys, 6)
    covered = [key for batch in batches for key in batch.keys]
    assert sorted(covered) == sorted(keys)  # every study exactly once
    assert all(len(batch.keys) <= 6 for batch in batches)
    assert len(batches) >= len(keys) // 6


def test_a_subset_is_covered_by_rectangles_around_it():
    keys = study_partitions.get_partition_keys()
    wanted = [k for k in keys if k.endswith(("|macd", "|rsi", "|kama"))]
    batches = plan_batches(study_partitions, wanted, 6)
    covered = {key for batch in batches for key in batch.keys}
    assert set(wanted) <= covered


def test_one_run_materializes_a_range_with_metadata_per_partition(sample_settings):
    instance = dg.DagsterInstance.ephemeral()
    keys = ["2018-01-01|BTC/USD", "2018-01-01|ETH/USD", "2018-02-01|BTC/USD",
            "2018-02-01|ETH/USD"]  # fmt: skip
    (batch,) = plan_batches(market_data_partitions, keys, 10_000)
    assert set(batch.keys) == set(keys)
    result = dg.materialize(
        market_data_assets,
        resources=build_resources(sample_settings),
        instance=instance,
        tags=batch.tags,
    )
    assert result.success
    bars = {m.partition: m.metadata for m in result.asset_materializations_for_node("bars")}
    assert set(bars) == set(keys)
    assert bars["2018-02-01|BTC/USD"]["dagster/row_count"].value == 28 * 48
    assert bars["2018-01-01|ETH/USD"]["first_timestamp"].value.startswith("2018-01-01")
    assert len(result.get_asset_check_evaluations()) == 6
    definitions = dg.Definitions(
        assets=market_data_assets,
        jobs=[dg.define_asset_job("md", selection=market_data_assets)],
        resources=build_resources(sample_settings),
    )
    job = definitions.resolve_job_def("md")
    assert missing_keys(instance, job, keys) == []
    assert missing_keys(instance, job, [*keys, "2018-03-01|BTC/USD"]) == ["2018-03-01|BTC/USD"]
