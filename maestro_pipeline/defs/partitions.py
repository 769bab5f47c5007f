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


market_data_partitions = build_market_data_partitions(load_settings())


def symbol_and_month(partition_key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """('BTC/USD', '2019-01') from a market-data partition key."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        partition_key = market_data_partitions.get_partition_key_from_str(partition_key)
    keys = partition_key.keys_by_dimension
    return keys[SYMBOL_DIM], month_key(keys[MONTH_DIM])
