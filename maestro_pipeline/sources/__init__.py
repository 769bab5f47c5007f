"""Where bars come from: any ccxt exchange, or the bundled real sample.

Every source answers :meth:`BarSource.fetch_ohlcv` with the same raw frame (``RAW_SCHEMA``):
epoch-millisecond bar-open timestamps and the exchange's numbers as they arrived, so both go
through the same raw -> bars path.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

RAW_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": pl.Int64(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}


class BarSource(Protocol):
    """Something that returns raw OHLCV rows of one symbol for a time range."""

    name: str

    def fetch_ohlcv(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        """Raw rows with bar-open times in [start_ms, end_ms), as ``RAW_SCHEMA``."""
        ...
