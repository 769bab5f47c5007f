"""One contract for every warehouse: DuckDB always, QuestDB when a server is configured.

Point ``QUESTDB_HTTP`` (ILP/HTTP, e.g. ``127.0.0.1:9000``) and ``QUESTDB_PG`` (PostgreSQL wire,
e.g. ``127.0.0.1:8812``) at a QuestDB server to run the suite against it as well
(``MAESTRO_QUESTDB_PG_USER``/``MAESTRO_QUESTDB_PG_PASSWORD`` when it does not use the defaults).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.storage.questdb import QuestDBConfig, QuestDBWarehouse, sample_by_interval
from maestro_pipeline.storage.warehouse import DuckDBWarehouse, Warehouse

MONTHS = ("2018-03", "2018-04")


def _questdb_config() -> QuestDBConfig | None:
    http, pg = os.environ.get("QUESTDB_HTTP"), os.environ.get("QUESTDB_PG")
    if not (http and pg):
        return None
    http_host, http_port = http.rsplit(":", 1)
    _, pg_port = pg.rsplit(":", 1)
    return QuestDBConfig(
        host=http_host,
        http_port=int(http_port),
        pg_port=int(pg_port),
        pg_user=os.environ.get("MAESTRO_QUESTDB_PG_USER", "admin"),
        pg_password=os.environ.get("MAESTRO_QUESTDB_PG_PASSWORD", "quest"),
    )


@pytest.fixture(params=["duckdb", "questdb"])
def warehouse(request, tmp_path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
            yield DuckDBWarehouse(conn)
        return
    config = _questdb_config()
    if config is None:
        pytest.skip("QuestDB contract tests need QUESTDB_HTTP and QUESTDB_PG pointing at a server")
    with QuestDBWarehouse(config) as store:
        yield store


@pytest.fixture
def exchange() -> str:
    """A fresh exchange name per test, so runs against a shared server never collide."""
    return f"contract-{uuid.uuid4().hex[:8]}"


def _month(frame: pl.DataFrame, month: str) -> pl.DataFrame:
    year, mon = (int(p) for p in month.split("-"))
    ts = pl.col("timestamp")
    return frame.filter((ts.dt.year() == year) & (ts.dt.month() == mon))


def _by_timeframe(btc_30m: pl.DataFrame, month: str) -> dict[str, pl.DataFrame]:
    base = _month(btc_30m, month)
    return {"30m": base, "4h": resample_bars(base, "4h")}


def test_write_then_read_back_exactly(warehouse, exchange, btc_30m):
    sent = _by_timeframe(btc_30m, MONTHS[0])
    written = warehouse.replace_month(exchange, "BTC/USD", MONTHS[0], sent)
    assert written == sum(f.height for f in sent.values())
    for timeframe, frame in sent.items():
        got = warehouse.read_bars(exchange, "BTC/USD", timeframe)
        assert got.equals(frame), timeframe


def test_rewriting_a_month_never_duplicates_rows(warehouse, exchange, btc_30m):
    for month in MONTHS:
        warehouse.replace_month(exchange, "BTC/USD", month, _by_timeframe(btc_30m, month))
    first = {m: warehouse.month_row_counts(exchange, "BTC/USD", m) for m in MONTHS}
    warehouse.replace_month(exchange, "BTC/USD", MONTHS[0], _by_timeframe(btc_30m, MONTHS[0]))
    again = {m: warehouse.month_row_counts(exchange, "BTC/USD", m) for m in MONTHS}
    assert again == first
    expected = {tf: f.height for tf, f in _by_timeframe(btc_30m, MONTHS[0]).items()}
    assert first[MONTHS[0]] == expected


def test_read_a_time_range(warehouse, exchange, btc_30m):
    warehouse.replace_month(exchange, "BTC/USD", MONTHS[0], _by_timeframe(btc_30m, MONTHS[0]))
    start, end = datetime(2018, 3, 10, tzinfo=UTC), datetime(2018, 3, 12, 6, tzinfo=UTC)
    got = warehouse.read_bars(exchange, "BTC/USD", "30m", start, end)
    expected = btc_30m.filter(pl.col("timestamp").is_between(start, end, closed="left"))
    assert got.equals(expected)
    assert warehouse.read_bars(exchange, "ETH/USD", "30m").is_empty()


@pytest.mark.parametrize("timeframe", ["1h", "4h", "1d"])
def test_resample_on_read_matches_the_engine(warehouse, exchange, btc_30m, timeframe):
    warehouse.replace_month(exchange, "BTC/USD", MONTHS[1], _by_timeframe(btc_30m, MONTHS[1]))
    got = warehouse.resample_bars(exchange, "BTC/USD", "30m", timeframe)
    expected = resample_bars(_month(btc_30m, MONTHS[1]), timeframe)
    assert got.get_column("timestamp").equals(expected.get_column("timestamp"))
    for column in ("open", "high", "low", "close"):
        assert got.get_column(column).equals(expected.get_column(column)), column
    assert got.get_column("volume").to_list() == pytest.approx(
        expected.get_column("volume").to_list()
    )


def test_row_counts_by_month_and_timeframe(warehouse, exchange, btc_30m):
    sent = _by_timeframe(btc_30m, MONTHS[1])
    warehouse.replace_month(exchange, "BTC/USD", MONTHS[1], sent)
    assert warehouse.month_row_counts(exchange, "BTC/USD", MONTHS[1]) == {
        tf: f.height for tf, f in sent.items()
    }
    assert warehouse.month_row_counts(exchange, "BTC/USD", MONTHS[0]) == {}


def test_questdb_sample_by_literals_come_from_valid_timeframes_only():
    assert sample_by_interval("4h") == "4h"
    assert sample_by_interval("30m") == "30m"
    with pytest.raises(ValueError, match="invalid timeframe"):
        sample_by_interval("1h; DROP TABLE ohlcv")
