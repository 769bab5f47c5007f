"""Partitions of market data: configured symbols crossed with calendar months (UTC)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from maestro_pipeline.settings import Settings, load_settings
from maestro_pipeline.storage.lake import month_key

SYMBOL_DIM = "symbol"
MONTH_DIM = "month"


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


STRATEGY_DIM = "strategy"
SERIES_DIM = "series"


def series_key(symbol: str, timeframe: str) -> str:
    """'BTC/USD@1h': one symbol at one timeframe, the market a study runs on."""
    return f"{symbol}@{timeframe}"


def build_study_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    """strategy (every registered strategy) x series (symbol@timeframe)."""
    from maestro_pipeline.engine.registry import strategy_names

    series = [series_key(s, tf) for s in settings.symbols for tf in settings.study_timeframes]
    return dg.MultiPartitionsDefinition(
        {
            STRATEGY_DIM: dg.StaticPartitionsDefinition(strategy_names()),
            SERIES_DIM: dg.StaticPartitionsDefinition(series),
        }
    )


_settings = load_settings()
market_data_partitions = build_market_data_partitions(_settings)
study_partitions = build_study_partitions(_settings)


def strategy_symbol_timeframe(partition_key: str | dg.MultiPartitionKey) -> tuple[str, str, str]:
    """('ema_cross', 'BTC/USD', '1h') from a study partition key."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        partition_key = study_partitions.get_partition_key_from_str(partition_key)
    keys = partition_key.keys_by_dimension
    symbol, timeframe = keys[SERIES_DIM].rsplit("@", 1)
    return keys[STRATEGY_DIM], symbol, timeframe


def symbol_and_month(partition_key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """('BTC/USD', '2019-01') from a market-data partition key."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        partition_key = market_data_partitions.get_partition_key_from_str(partition_key)
    keys = partition_key.keys_by_dimension
    return keys[SYMBOL_DIM], month_key(keys[MONTH_DIM])
