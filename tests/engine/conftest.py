"""Shared fixtures: the bundled real BTC/USD and ETH/USD samples as 1h bars."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import maestro_pipeline
from maestro_pipeline.engine.bars import resample_bars

SAMPLE_DIR = Path(maestro_pipeline.__file__).parent / "sources" / "sample_data"


def _hourly(name: str) -> pl.DataFrame:
    return resample_bars(pl.read_parquet(SAMPLE_DIR / name), "1h")


@pytest.fixture(scope="session")
def btc_1h() -> pl.DataFrame:
    return _hourly("bitfinex_btc_usd_30m.parquet")


@pytest.fixture(scope="session")
def eth_1h() -> pl.DataFrame:
    return _hourly("bitfinex_eth_usd_30m.parquet")
