"""Partition keys and study ids: the one format module agrees with Dagster's own keys."""

from __future__ import annotations

import dagster as dg
import pytest

from maestro_pipeline.defs.partitions import (
    market_data_partitions,
    study_key,
    study_partitions,
    symbol_and_month,
)
from maestro_pipeline.keys import (
    MONTH_DIM,
    SYMBOL_DIM,
    StudyKey,
    market_partition_key,
    month_of_partition,
)


def test_study_partition_keys_are_dagsters():
    keys = study_partitions.get_partition_keys()
    assert keys
    for key in keys:
        parsed = StudyKey.from_partition_key(key)
        assert parsed.partition_key == key
        assert str(dg.MultiPartitionKey(parsed.partition_dimensions)) == key
        assert study_key(key) == parsed
        assert StudyKey.from_study_id(parsed.study_id) == parsed


def test_market_data_partition_keys_are_dagsters():
    for key in market_data_partitions.get_partition_keys():
        symbol, month = symbol_and_month(key)
        assert market_partition_key(symbol, month) == key
        assert month_of_partition(key) == month
        dimensions = {SYMBOL_DIM: symbol, MONTH_DIM: f"{month}-01"}
        assert str(dg.MultiPartitionKey(dimensions)) == key


@pytest.mark.parametrize("bad", ["ema_cross", "BTC/USD|ema_cross", "BTC/USD@1h|", "@|x"])
def test_malformed_study_partition_keys_are_refused(bad):
    with pytest.raises(ValueError):
        StudyKey.from_partition_key(bad)
