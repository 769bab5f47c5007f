"""Exchange errors retried by what they mean, not by their body's format: the real ccxt client
against a Binance-compatible server on 127.0.0.1 that answers with Binance's own error bodies.

October 2017 of BTC/USDT 30m is 1,488 bars: 15 kline pages of 100 when nothing fails.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb
import polars as pl
import pytest

from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.resources import MarketDataResource, build_resources
from maestro_pipeline.engine.bars import clean_bars
from maestro_pipeline.settings import Settings
from maestro_pipeline.sources.exchange import (
    CcxtSource,
    ExchangeDownloadError,
    ExchangeRequestRejected,
)
from tests.support.binance_server import (
    BACKEND_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_SYMBOL,
    TOO_MANY_REQUESTS,
    UNKNOWN_ERROR,
    BinanceLikeServer,
    Fault,
)

OCT_2017 = (
    int(datetime(2017, 10, 1, tzinfo=UTC).timestamp() * 1000),
    int(datetime(2017, 11, 1, tzinfo=UTC).timestamp() * 1000),
)
PAGES = 15
BARS = 1488


@pytest.fixture
def server(btc_30m: pl.DataFrame):
    with BinanceLikeServer({"BTC/USDT": btc_30m}, max_limit=100) as srv:
        yield srv


def _source(server: BinanceLikeServer, **kwargs) -> CcxtSource:
    options = {"page_limit": 100, "retry_base_seconds": 0.01, **kwargs}
    return CcxtSource("binance", base_url=server.base_url, **options)


def _expected(btc_30m: pl.DataFrame) -> pl.DataFrame:
    ms = pl.col("timestamp").dt.epoch("ms")
    return btc_30m.filter((ms >= OCT_2017[0]) & (ms < OCT_2017[1]))


@pytest.mark.parametrize(
    "faults",
    [
        # Binance's JSON bodies on 5xx: ccxt raises OperationFailed, not a NetworkError.
        [Fault(502, INTERNAL_ERROR), Fault(503, BACKEND_TIMEOUT)],
        [Fault(500, UNKNOWN_ERROR), Fault(502, INTERNAL_ERROR), Fault(503, BACKEND_TIMEOUT)],
        # A transient code is retried whatever the status it comes with.
        [Fault(400, INTERNAL_ERROR), Fault(429, TOO_MANY_REQUESTS)],
        # A proxy's HTML page, and an answer that stalls past the client's timeout.
        [Fault(502, "<html><body>502 Bad Gateway</body></html>"), Fault(stall_seconds=1.0)],
    ],
    ids=["502-1001+503-1007", "500-1000+502-1001+503-1007", "400-1001+429-1003", "html502+stall"],
)
def test_transient_answers_mid_download_are_retried_and_the_download_is_exact(
    server, btc_30m, faults
):
    server.faults.extend([None, None, None, *faults])  # pages 1-3 fine, then the faults
    source = _source(server, timeout_ms=300)
    raw = source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    assert server.kline_requests == PAGES + len(faults)
    assert source.retries == len(faults)
    clean, report = clean_bars(raw, "30m")
    assert report.rejected_rows == 0 and report.duplicate_rows == 0
    assert clean.height == BARS
    assert clean.equals(_expected(btc_30m))


def test_retry_after_is_waited_for(server):
    server.faults.extend([None, Fault(429, TOO_MANY_REQUESTS, {"Retry-After": "1"})])
    source = _source(server)
    assert source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017).height == BARS
    assert server.kline_requests == PAGES + 1 and source.retries == 1
    # The backoff alone would wait 0.01 s: only the header explains a full second.
    assert server.kline_times[2] - server.kline_times[1] >= 1.0


def test_a_retry_after_longer_than_allowed_fails_at_once(server):
    server.faults.append(Fault(418, {"code": -1003, "msg": "IP banned"}, {"Retry-After": "7200"}))
    source = _source(server, max_retry_after_seconds=60)
    with pytest.raises(ExchangeDownloadError, match="asks to wait 7200 s, more than the 60 s"):
        source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    assert server.kline_requests == 1


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (Fault(400, INVALID_SYMBOL), "HTTP 400, code -1121: Invalid symbol."),
        (Fault(400, {"code": -1120, "msg": "Invalid interval."}), "code -1120: Invalid interval"),
        # ccxt calls an HTML 404 ExchangeNotAvailable; a wrong URL does not heal by waiting.
        (Fault(404, "<html>Not Found</html>"), "HTTP 404"),
    ],
    ids=["-1121", "-1120", "html404"],
)
def test_a_rejected_request_is_sent_once_and_named(server, fault, said):
    server.faults.append(fault)
    source = _source(server)
    with pytest.raises(ExchangeRequestRejected) as raised:
        source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    message = str(raised.value)
    assert message.startswith("binance BTC/USDT 30m: page from 2017-10-01T00:00:00Z")
    assert said in message and "not retried" in message
    assert server.kline_requests == 1 and source.retries == 0


def test_a_server_that_keeps_answering_502_fails_after_the_retries(server):
    server.fail_after = 5
    server.fail_with = Fault(502, INTERNAL_ERROR)
    source = _source(server, max_attempts=4)
    with pytest.raises(ExchangeDownloadError) as raised:
        source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    assert not isinstance(raised.value, ExchangeRequestRejected)
    assert str(raised.value) == (
        "binance BTC/USDT 30m: page from 2017-10-11T10:00:00Z (1507716000000) failed after "
        "retries (4 attempts); last answer: HTTP 502, code -1001: Internal error; unable to "
        "process your request. Please try again."
    )
    assert server.kline_requests == 5 + 4 and source.retries == 3


def _warehouse_rows(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        return conn.execute("SELECT * FROM ohlcv ORDER BY ALL").fetchall()


def test_permanent_502_through_the_assets_changes_nothing_stored(tmp_path, btc_30m):
    with BinanceLikeServer({"BTC/USD": btc_30m}, max_limit=500) as server:
        settings = Settings(
            source="ccxt", exchange="binance", exchange_url=server.base_url, data_dir=tmp_path
        )
        resources = build_resources(settings)
        resources["market_data"] = MarketDataResource(
            **{**resources["market_data"].model_dump(), "retry_base_seconds": 0.01}
        )
        instance = dg.DagsterInstance.ephemeral()
        key = "2017-10-01|BTC/USD"
        first = dg.materialize(
            market_data_assets, partition_key=key, resources=resources, instance=instance
        )
        assert first.success
        assert first.asset_materializations_for_node("bars")[0].metadata[
            "dagster/row_count"
        ].value == (BARS)
        rows = _warehouse_rows(settings)
        lake_bytes = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
        assert len(lake_bytes) == 1 + len(settings.all_timeframes)  # raw + one per timeframe

        server.fail_after = server.kline_requests + 1  # the second page and all after: 502
        server.fail_with = Fault(502, INTERNAL_ERROR)
        served = server.kline_requests
        again = dg.materialize(
            market_data_assets,
            partition_key=key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        assert not again.success
        error = str(next(e for e in again.all_events if e.is_step_failure).step_failure_data.error)
        assert "ExchangeDownloadError" in error
        assert "page from 2017-10-11T10:00:00Z" in error and "failed after retries" in error
        assert "code -1001" in error
        assert server.kline_requests - served == 1 + 6  # one good page, then 6 attempts
    assert _warehouse_rows(settings) == rows
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == lake_bytes
    assert not [p for p in tmp_path.rglob("*.tmp")]
