"""The read endpoints against a data directory materialized by the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from maestro_pipeline.engine.walk_forward.config import setting_infos
from maestro_pipeline.keys import StudyKey
from maestro_pipeline.storage.reports import ReportStore
from maestro_pipeline.storage.studies import HEADLINE_COLUMNS, StudyStore
from tests.api.conftest import STUDY_ID

API = "/api/v2"
KEY = StudyKey("ema_cross", "BTC/USD", "1h")


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def _field(response) -> list:
    """The ``loc`` of the first error: [location, field name]."""
    return response.json()["detail"][0]["loc"]


def test_health_sees_the_lake_and_the_study(client):
    body = client.get(f"{API}/health").json()
    assert body["status"] == "ok"
    assert body["symbols"] == ["BTC/USD"]
    assert body["studies_published"] == 1 and body["leaderboard"] is True


def test_strategies_list_the_catalog(client):
    body = client.get(f"{API}/strategies").json()
    by_name = {s["name"]: s for s in body}
    assert len(body) == 22
    ema = by_name["ema_cross"]
    assert ema["description"] and ema["defaults"]
    assert {"type", "low", "high"} <= set(next(iter(ema["space"].values())))


def test_bars_return_the_lake_rows_columnar(client, published):
    lake_rows = published.lake.read_bars("sample", "BTC/USD", "1h")
    body = client.get(f"{API}/bars/BTC-USD", params={"timeframe": "1h"}).json()
    assert body["count"] == lake_rows.height == len(body["close"]) > 2000
    assert body["timestamp"][0] == _ms(2018, 1, 1)
    assert body["close"] == lake_rows.get_column("close").to_list()
    assert body["truncated"] is False


def test_bars_range_and_limit(client):
    params = {"timeframe": "4h", "start": "2018-02-01", "end": "2018-02-02T00:00:00Z"}
    body = client.get(f"{API}/bars/BTC-USD", params=params).json()
    assert body["count"] == 6
    assert body["timestamp"][0] == _ms(2018, 2, 1) and body["timestamp"][-1] == _ms(2018, 2, 1, 20)
    latest = client.get(f"{API}/bars/BTC-USD", params={"timeframe": "1d", "limit": 3}).json()
    assert latest["count"] == 3 and latest["truncated"] is True
    assert latest["timestamp"][-1] == _ms(2018, 4, 30)


def test_bars_accept_the_slash_form_and_serve_cached_copies_consistently(client):
    first = client.get(f"{API}/bars/BTC/USD", params={"timeframe": "1d"})
    again = client.get(f"{API}/bars/BTC-USD", params={"timeframe": "1d"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.headers["etag"] == again.headers["etag"]


def test_bars_revalidate_with_etags(client):
    params = {"timeframe": "1d"}
    etag = client.get(f"{API}/bars/BTC-USD", params=params).headers["etag"]
    unchanged = client.get(f"{API}/bars/BTC-USD", params=params, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    other = client.get(f"{API}/bars/BTC-USD", params={**params, "limit": 5})
    assert other.headers["etag"] != etag


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/bars/..%2F..%2Fetc", {}, 422, "symbol"),
        ("/bars/..%2F..%2Fetc%2Fpasswd", {"timeframe": "1h"}, 422, "symbol"),
        ("/bars/BTC-USD%00", {}, 422, "symbol"),
        ("/bars/DOGE-USD", {}, 404, "symbol"),
        ("/bars/BTC-USD", {"timeframe": "7m"}, 404, "timeframe"),
        ("/bars/BTC-USD", {"timeframe": "1x"}, 422, "timeframe"),
        ("/bars/BTC-USD", {"timeframe": "../1h"}, 422, "timeframe"),
        ("/bars/BTC-USD", {"start": "2018-03-01", "end": "2018-02-01"}, 422, "start"),
        ("/bars/BTC-USD", {"start": "2018-03-01", "end": "2018-03-01"}, 422, "start"),
        ("/bars/BTC-USD", {"start": "not a date"}, 422, "start"),
        ("/bars/BTC-USD", {"limit": 10**9}, 422, "limit"),
        ("/bars/BTC-USD", {"limit": 0}, 422, "limit"),
    ],
)
def test_bad_bar_requests_name_the_field(client, path, params, status, field):
    response = client.get(API + path, params=params)
    assert response.status_code == status, response.text
    assert _field(response)[-1] == field


def test_too_many_rows_is_refused_naming_limit(client, monkeypatch):
    from api.routers import bars

    monkeypatch.setattr(bars, "MAX_BAR_ROWS", 100)
    response = client.get(f"{API}/bars/BTC-USD", params={"timeframe": "30m"})
    assert response.status_code == 422
    assert _field(response) == ["query", "limit"]
    assert "narrow start/end" in response.json()["detail"][0]["msg"]


def test_study_list_and_detail(client, published):
    listing = client.get(f"{API}/optimization").json()
    assert listing["count"] == 1
    item = listing["studies"][0]
    assert item["study_id"] == STUDY_ID and item["status"] == "completed" and item["published"]
    assert item["oos"]["sharpe_ratio"] is not None

    detail = client.get(f"{API}/optimization/{STUDY_ID}").json()
    summary = StudyStore(published.data_dir).read_summary(KEY)
    assert detail["oos"]["sharpe_ratio"] == pytest.approx(summary["oos"]["sharpe_ratio"])
    assert detail["deflated_sharpe_ratio"] == pytest.approx(summary["deflated_sharpe_ratio"])
    assert detail["pbo"] == summary["pbo"]
    assert [f["fold"] for f in detail["folds"]] == [0, 1]
    fold = detail["folds"][0]
    assert set(fold["best_params"]) == {"fast", "slow", "ma_type"}
    assert fold["is_metrics"]["sharpe_ratio"] is not None
    assert "sharpe_ratio" in fold["oos_metrics"] and fold["trials"]["n_complete"] > 0


def test_study_v1_schema_has_the_old_shape(client, published):
    body = client.get(f"{API}/optimization/{STUDY_ID}", params={"schema": "v1"}).json()
    pyfolio = body["analyzers"]["PyFolio"]
    summary = StudyStore(published.data_dir).read_summary(KEY)
    assert pyfolio["Sharpe ratio"] == pytest.approx(summary["oos"]["sharpe_ratio"])
    assert pyfolio["Annual return"] == pytest.approx(summary["oos"]["cagr"])
    fills = body["observers"]["BuySell"]
    trades = StudyStore(published.data_dir).read_frame(KEY, "trades")
    closed = trades.filter(pl.col("status") == "closed").height
    assert len(fills) == trades.height + closed
    assert {f["type"] for f in fills} <= {"buy", "sell"}
    bad = client.get(f"{API}/optimization/{STUDY_ID}", params={"schema": "v3"})
    assert bad.status_code == 422 and _field(bad) == ["query", "schema"]


def test_trades_and_equity_match_the_published_frames(client, published):
    store = StudyStore(published.data_dir)
    trades = client.get(f"{API}/optimization/{STUDY_ID}/trades").json()
    assert trades["count"] == store.read_frame(KEY, "trades").height
    assert {"entry_time", "side", "pnl", "return"} <= set(trades["trades"][0])
    equity = client.get(f"{API}/optimization/{STUDY_ID}/equity").json()
    frame = store.read_frame(KEY, "equity")
    assert equity["count"] == frame.height == len(equity["equity"])
    assert equity["equity"][-1] == pytest.approx(frame.get_column("equity")[-1])


def test_report_insights_metrics_and_leaderboard(client, published):
    report = client.get(f"{API}/optimization/{STUDY_ID}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.content == ReportStore(published.data_dir).path(KEY, "tearsheet").read_bytes()
    insights = client.get(f"{API}/optimization/{STUDY_ID}/insights").json()
    assert [f["fold"] for f in insights["folds"]] == [0, 1]
    metrics = client.get(f"{API}/optimization/{STUDY_ID}/metrics").json()
    assert "strategy" in metrics["metrics"]["sharpe_ratio"]
    board = client.get(f"{API}/leaderboard").json()
    assert board["count"] == 1 and board["rows"][0]["study_id"] == STUDY_ID
    assert board["rows"][0]["rank"] == 1
    filtered = client.get(f"{API}/leaderboard", params={"symbol": "ETH-USD"}).json()
    assert filtered["count"] == 0


def test_meta_lists_the_leaderboard_columns_the_rows_carry(client, published):
    meta = client.get(f"{API}/meta").json()
    columns = [column["name"] for column in meta["leaderboard_columns"]]
    assert columns == list(HEADLINE_COLUMNS)
    assert all(
        c["label"] and c["format"] in ("ratio", "percent", "count", "text")
        for c in meta["leaderboard_columns"]
    )
    verdict = next(c for c in meta["leaderboard_columns"] if c["name"] == "verdict")
    assert verdict["format"] == "text"
    assert verdict["choices"] == ["robust", "fragile", "overfit", "insufficient"]
    row = client.get(f"{API}/leaderboard").json()["rows"][0]
    assert set(columns) <= set(row)
    assert row["verdict"] in verdict["choices"]
    settings = [setting["name"] for setting in meta["study_settings"]]
    assert settings == [info.name for info in setting_infos()]


@pytest.mark.parametrize("suffix", ["", "/trades", "/equity", "/report", "/insights", "/metrics"])
def test_malformed_and_unknown_study_ids(client, suffix):
    for bad in ("nonsense", "..%2F..%2Fetc", "ema_cross.BTC-USD", "ema_cross.BTC-USD.7q"):
        response = client.get(f"{API}/optimization/{bad}{suffix}")
        assert response.status_code in (404, 422), (bad, response.text)
        if response.status_code == 422:
            assert _field(response) == ["path", "tid"]
    unknown = client.get(f"{API}/optimization/no_such_rule.BTC-USD.1h{suffix}")
    assert unknown.status_code == 404 and _field(unknown) == ["path", "tid"]
    missing = client.get(f"{API}/optimization/macd.BTC-USD.1h{suffix}")
    assert missing.status_code == 404
    assert "not materialized yet" in missing.json()["detail"]


def test_nothing_materialized_gives_clear_404s(empty_client):
    for path in ("/leaderboard", f"/optimization/{STUDY_ID}", f"/optimization/{STUDY_ID}/report"):
        response = empty_client.get(API + path)
        assert response.status_code == 404
        assert "not materialized yet" in response.json()["detail"]
    bars = empty_client.get(f"{API}/bars/BTC-USD")
    assert bars.status_code == 404 and "none (materialize market data)" in bars.text
    assert empty_client.get(f"{API}/optimization").json() == {"count": 0, "studies": []}


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    schema = client.get(f"{API}/openapi.json").json()
    assert f"{API}/bars/{{symbol}}" in schema["paths"]
    assert schema["paths"][f"{API}/optimization"]["post"]["description"]
