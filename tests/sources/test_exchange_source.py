"""The real ccxt client against a Binance-compatible server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from maestro_pipeline.engine.bars import clean_bars
from maestro_pipeline.keys import UnknownSymbolError
from maestro_pipeline.sources.exchange import CcxtSource, ExchangeDownloadError
from maestro_pipeline.storage.lake import Lake
from tests.support.binance_server import BinanceLikeServer

OCT_2017 = (
    int(datetime(2017, 10, 1, tzinfo=UTC).timestamp() * 1000),
    int(datetime(2017, 11, 1, tzinfo=UTC).timestamp() * 1000),
)


@pytest.fixture
def server(btc_30m: pl.DataFrame):
    with BinanceLikeServer({"BTC/USDT": btc_30m}, max_limit=100) as srv:
        yield srv


def _source(server: BinanceLikeServer) -> CcxtSource:
    return CcxtSource("binance", base_url=server.base_url, page_limit=100, retry_base_seconds=0.01)


def _expected(btc_30m: pl.DataFrame, start: int, end: int) -> pl.DataFrame:
    ms = pl.col("timestamp").dt.epoch("ms")
    return btc_30m.filter((ms >= start) & (ms < end))


def test_download_spans_many_pages_and_equals_the_served_bars(server, btc_30m):
    raw = _source(server).fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    expected = _expected(btc_30m, *OCT_2017)
    assert server.kline_requests > 10  # 1,488 bars at 100 a page
    assert raw.height == expected.height == 1488
    clean, report = clean_bars(raw, "30m")
    assert report.rejected_rows == 0 and report.duplicate_rows == 0
    assert clean.equals(expected)


def test_rate_limit_answer_is_retried_then_succeeds(server, btc_30m):
    server.faults.extend([429, 429])
    raw = _source(server).fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    assert raw.height == 1488
    assert server.kline_requests == 15 + 2


def test_server_error_midway_is_retried_then_succeeds(server, btc_30m):
    source = _source(server)
    server.faults.extend([None, None, None, 503, 502])  # pages 1-3 fine, then two 5xx answers
    raw = source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    assert raw.height == 1488
    assert raw.get_column("timestamp").is_sorted()
    assert raw.get_column("timestamp").n_unique() == 1488


def test_server_that_keeps_failing_raises_a_clear_error(server):
    server.fail_after = 3
    source = CcxtSource(
        "binance", base_url=server.base_url, page_limit=100, retry_base_seconds=0.01, max_attempts=3
    )
    with pytest.raises(
        ExchangeDownloadError,
        match=r"BTC/USDT 30m: page from 2017-10-\d\dT[\d:]+Z \(\d+\) failed after retries "
        r"\(3 attempts\); last answer: HTTP 500",
    ):
        source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)


def test_malformed_row_is_counted_as_rejected_not_kept(server, btc_30m):
    bad_ts = OCT_2017[0] + 40 * 1_800_000
    server.malformed_at["BTCUSDT"] = bad_ts
    raw = _source(server).fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    clean, report = clean_bars(raw, "30m")
    assert report.invalid_rows == 1
    assert clean.height == 1487
    assert bad_ts not in clean.get_column("timestamp").dt.epoch("ms").to_list()


def test_unknown_symbol_names_the_symbol(server):
    with pytest.raises(UnknownSymbolError, match="DOGE/USDT"):
        _source(server).fetch_ohlcv("DOGE/USDT", "30m", *OCT_2017)


def test_failed_download_loses_nothing_already_stored(server, tmp_path):
    lake = Lake(tmp_path / "lake")
    good = _source(server).fetch_ohlcv("BTC/USDT", "30m", *OCT_2017)
    path = lake.write_month("raw", "binance", "BTC/USDT", "30m", "2017-10", good)
    before = path.read_bytes()
    server.fail_after = server.kline_requests + 2
    source = CcxtSource(
        "binance", base_url=server.base_url, page_limit=100, retry_base_seconds=0.01, max_attempts=2
    )
    with pytest.raises(ExchangeDownloadError):
        lake.write_month(
            "raw",
            "binance",
            "BTC/USDT",
            "30m",
            "2017-10",
            source.fetch_ohlcv("BTC/USDT", "30m", *OCT_2017),
        )
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["2017-10.parquet"]  # no temp files left


def test_unknown_exchange_id_is_rejected():
    with pytest.raises(ValueError, match="unknown ccxt exchange id 'nosuchexchange'"):
        CcxtSource("nosuchexchange")
