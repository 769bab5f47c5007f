"""Partitions: market data by symbol x month, studies by strategy x series (symbol@timeframe).

Partitions shape the definitions themselves (which keys exist), so they are the one thing the
Dagster layer reads from the deployment's settings when the code location loads; every other
setting reaches assets through resources at run time.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from maestro_pipeline.catalog import load_catalog
from maestro_pipeline.keys import (
    MONTH_DIM,
    SERIES_DIM,
    STRATEGY_DIM,
    SYMBOL_DIM,
    StudyKey,
    month_key,
    series_key,
)
from maestro_pipeline.settings import Settings, load_settings


def build_market_data_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    """symbol x month; with no end date the current, still-growing month is a partition too."""
    start = date(settings.start.year, settings.start.month, 1)
    months = dg.MonthlyPartitionsDefinition(
        start_date=start.isoformat(),
        end_date=settings.end.isoformat() if settings.end else None,
        end_offset=0 if settings.end else 1,
        timezone="UTC",
    )
    symbols = dg.StaticPartitionsDefinition(list(settings.symbols))
    return dg.MultiPartitionsDefinition({SYMBOL_DIM: symbols, MONTH_DIM: months})


def build_strategy_partitions() -> dg.StaticPartitionsDefinition:
    """Every strategy of the catalog that loads: built-ins, packages, MAESTRO_STRATEGY_PATH.

    Read when the code location loads, so new strategy files appear after a reload; a
    partition's key is the strategy's name, so existing studies keep their history.
    """
    return dg.StaticPartitionsDefinition(load_catalog().names())


def build_study_partitions(
    settings: Settings, strategies: dg.StaticPartitionsDefinition
) -> dg.MultiPartitionsDefinition:
    """strategy x series (symbol@timeframe)."""
    series = [series_key(s, tf) for s in settings.symbols for tf in settings.study_timeframes]
    return dg.MultiPartitionsDefinition(
        {STRATEGY_DIM: strategies, SERIES_DIM: dg.StaticPartitionsDefinition(series)}
    )


_settings = load_settings()
market_data_partitions = build_market_data_partitions(_settings)
strategy_partitions = build_strategy_partitions()
study_partitions = build_study_partitions(_settings, strategy_partitions)


def study_key(partition_key: str | dg.MultiPartitionKey) -> StudyKey:
    """The study of a study partition ('BTC/USD@1h|ema_cross')."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        partition_key = study_partitions.get_partition_key_from_str(partition_key)
    keys = partition_key.keys_by_dimension
    return StudyKey.from_dimensions(keys[STRATEGY_DIM], keys[SERIES_DIM])


def symbol_and_month(partition_key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """('BTC/USD', '2019-01') from a market-data partition key."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        partition_key = market_data_partitions.get_partition_key_from_str(partition_key)
    keys = partition_key.keys_by_dimension
    return keys[SYMBOL_DIM], month_key(keys[MONTH_DIM])
