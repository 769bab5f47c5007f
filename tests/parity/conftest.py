"""Parity fixtures: the bundled real samples as 1h bars, and the reference module on path."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

import maestro_pipeline
from maestro_pipeline.engine.bars import resample_bars

SAMPLE_DIR = Path(maestro_pipeline.__file__).parent / "sources" / "sample_data"
# Tests run with --import-mode=importlib: make the Backtrader reference importable by name.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def hourly_samples() -> dict[str, pl.DataFrame]:
    return {
        symbol: resample_bars(pl.read_parquet(SAMPLE_DIR / f"bitfinex_{stem}_30m.parquet"), "1h")
        for symbol, stem in (("BTC/USD", "btc_usd"), ("ETH/USD", "eth_usd"))
    }
