"""The bundled real sample: Bitfinex BTC/USD and ETH/USD 30-minute bars, 2017-10 to 2019-10.

See ``sample_data/README.md`` for provenance and licence.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from maestro_pipeline.keys import UnknownSymbolError
from maestro_pipeline.sources import RAW_SCHEMA

SAMPLE_DIR = Path(__file__).with_name("sample_data")
SAMPLE_TIMEFRAME = "30m"
SAMPLE_FILES = {
    "BTC/USD": SAMPLE_DIR / "bitfinex_btc_usd_30m.parquet",
    "ETH/USD": SAMPLE_DIR / "bitfinex_eth_usd_30m.parquet",
}


class SampleSource:
    """Serves the vendored sample files as if they were an exchange's answers."""

    name = "sample"

    def fetch_ohlcv(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        if symbol not in SAMPLE_FILES:
            raise UnknownSymbolError(
                f"unknown symbol {symbol!r} for the sample source; it has {sorted(SAMPLE_FILES)}"
            )
        if timeframe != SAMPLE_TIMEFRAME:
            raise ValueError(
                f"the sample source holds {SAMPLE_TIMEFRAME} bars only, not {timeframe!r}: "
                f"set MAESTRO_BASE_TIMEFRAME={SAMPLE_TIMEFRAME}"
            )
        ts_ms = pl.col("timestamp").dt.epoch("ms")
        return (
            pl.scan_parquet(SAMPLE_FILES[symbol])
            .with_columns(ts_ms.alias("timestamp"))
            .filter((pl.col("timestamp") >= start_ms) & (pl.col("timestamp") < end_ms))
            .select([pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()])
            .collect()
        )
