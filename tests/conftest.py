from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from maestro_pipeline.settings import Settings
from maestro_pipeline.sources.sample import SAMPLE_FILES


@pytest.fixture(scope="session")
def btc_30m() -> pl.DataFrame:
    """Real BTC/USD 30-minute bars from the bundled sample."""
    return pl.read_parquet(SAMPLE_FILES["BTC/USD"])


@pytest.fixture(scope="session")
def eth_30m() -> pl.DataFrame:
    return pl.read_parquet(SAMPLE_FILES["ETH/USD"])


@pytest.fixture
def sample_settings(tmp_path: Path) -> Settings:
    """Bundled-sample settings with every output under a temporary data directory."""
    return Settings(data_dir=tmp_path / "data")
