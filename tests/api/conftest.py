"""A small data directory materialized by the real pipeline (Dagster assets), and the API on it."""

from __future__ import annotations

import socket
import warnings
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from api.config import ApiConfig
from api.main import create_app
from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.reports import leaderboard, strategy_report
from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.defs.studies import walk_forward_study
from maestro_pipeline.engine.bars import BAR_SCHEMA
from maestro_pipeline.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

MONTHS = ("2018-01-01", "2018-02-01", "2018-03-01", "2018-04-01")
STUDY_PARTITION = "BTC/USD@1h|ema_cross"
STUDY_ID = "ema_cross.BTC-USD.1h"
TINY_STUDY = {"n_splits": 2, "n_trials": 10, "min_trades": 1}


def materialize_market_data(settings: Settings, months=MONTHS, symbol: str = "BTC/USD") -> None:
    """Materialize bars for ``months`` (the instance is created and disposed in this thread)."""
    resources = build_resources(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        for month in months:
            result = dg.materialize(
                market_data_assets,
                partition_key=f"{month}|{symbol}",
                resources=resources,
                instance=instance,
            )
            assert result.success


def month_bars(month: str, scale: float = 1.0) -> pl.DataFrame:
    """Hourly bars of one month, prices rising with the hour (times ``scale``)."""
    year, mon = (int(p) for p in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    times = pl.datetime_range(start, end, "1h", closed="left", eager=True, time_unit="ms")
    price = (np.arange(len(times), dtype=np.float64) + 100.0 * mon) * scale
    return pl.DataFrame(
        {
            "timestamp": times,
            "open": price,
            "high": price + 1,
            "low": price - 1,
            "close": price + 0.5,
            "volume": np.full(len(times), 3.25),
        },
        schema=BAR_SCHEMA,
    )


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Settings:
    """Four months of BTC/USD bars, one tiny ema_cross study, its report and the leaderboard."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("api_data"))
    materialize_market_data(settings)
    resources = build_resources(settings)
    instance = dg.DagsterInstance.ephemeral()
    study = dg.materialize(
        [walk_forward_study, strategy_report],
        partition_key=STUDY_PARTITION,
        resources=resources,
        instance=instance,
        run_config={"ops": {"walk_forward_study": {"config": TINY_STUDY}}},
    )
    assert study.success
    assert dg.materialize([leaderboard], resources=resources, instance=instance).success
    return settings


def api_config(tmp_path: Path, **overrides) -> ApiConfig:
    fields = {
        "frontend_dist": tmp_path / "no-frontend",
        "dagster_url": f"http://127.0.0.1:{free_port()}",
        "progress_poll_seconds": 0.05,
        "progress_max_seconds": 60.0,
        **overrides,
    }
    return ApiConfig(**fields)


@pytest.fixture(scope="session")
def app(published, tmp_path_factory):
    return create_app(published, api_config(tmp_path_factory.mktemp("api")))


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def empty_client(tmp_path):
    """The API over a data directory where nothing was materialized."""
    app = create_app(Settings(data_dir=tmp_path / "empty"), api_config(tmp_path))
    with TestClient(app) as test_client:
        yield test_client
