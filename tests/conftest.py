"""Fixtures every test folder shares: the bundled real samples, sample settings."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.strategy import Strategy
from maestro_pipeline.settings import Settings
from maestro_pipeline.sources.sample import SAMPLE_FILES


@pytest.fixture(scope="session")
def btc_30m() -> pl.DataFrame:
    """Real BTC/USD 30-minute bars from the bundled sample."""
    return pl.read_parquet(SAMPLE_FILES["BTC/USD"])


@pytest.fixture(scope="session")
def eth_30m() -> pl.DataFrame:
    return pl.read_parquet(SAMPLE_FILES["ETH/USD"])


@pytest.fixture(scope="session")
def btc_1h(btc_30m: pl.DataFrame) -> pl.DataFrame:
    """The bundled BTC/USD sample as 1h bars."""
    return resample_bars(btc_30m, "1h")


@pytest.fixture(scope="session")
def eth_1h(eth_30m: pl.DataFrame) -> pl.DataFrame:
    """The bundled ETH/USD sample as 1h bars."""
    return resample_bars(eth_30m, "1h")


@pytest.fixture(scope="session")
def half_year(btc_1h: pl.DataFrame) -> pl.DataFrame:
    """The last half year of BTC/USD 1h bars: enough for small real studies."""
    return btc_1h.tail(24 * 182)


@pytest.fixture(scope="session")
def ema_cross() -> Strategy:
    return get_strategy("ema_cross")


@pytest.fixture
def sample_settings(tmp_path: Path) -> Settings:
    """Bundled-sample settings with every output under a temporary data directory."""
    return Settings(data_dir=tmp_path / "data")
