"""``POST /api/v2/backtest``: one backtest on the published bars, on engine v2 or v1."""

from __future__ import annotations

import pytest

from api.main import create_app
from tests.api.conftest import TestClient, api_config

URL = "/api/v2/backtest"
REQUEST = {
    "strategy": "rsi",
    "symbol": "BTC/USD",
    "timeframe": "1h",
    "params": {"window": 5, "lower": 45.0, "upper": 55.0},
    "settings": {"fees": 0.001},
}
TOKEN = "backtest-token"


def test_both_engines_answer_the_same_backtest(client):
    answers = {}
    for engine in ("v1", "v2"):
        response = client.post(URL, json={**REQUEST, "engine_version": engine})
        assert response.status_code == 200, response.text
        answers[engine] = response.json()
    v1, v2 = answers["v1"], answers["v2"]
    assert v1["engine_version"] == "v1" and v2["engine_version"] == "v2"
    assert v1["params"] == v2["params"] == {"window": 5, "lower": 45.0, "upper": 55.0}
    assert v1["bars"] == v2["bars"] > 2000
    assert v1["trade_count"] == v2["trade_count"] == len(v2["trades"])
    for key in ("total_return", "max_drawdown"):
        assert v1["metrics"][key] == pytest.approx(v2["metrics"][key], rel=1e-6, abs=1e-12)
    assert v2["start"].startswith("2018-01-01")


def test_the_range_is_honoured(client):
    body = {**REQUEST, "start": "2018-02-01T00:00:00Z", "end": "2018-03-01T00:00:00Z"}
    answer = client.post(URL, json=body).json()
    assert answer["bars"] == 28 * 24
    assert answer["start"].startswith("2018-02-01")


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"strategy": "fernando"}, 422, "strategy"),
        ({"params": {"window": 1000}}, 422, "window"),
        ({"symbol": "DOGE/USD"}, 404, "symbol"),
        ({"timeframe": "7m"}, 404, "timeframe"),
        ({"engine_version": "v3"}, 422, "engine_version"),
        ({"settings": {"fees": -1}}, 422, "fees"),
        (
            {"engine_version": "v1", "settings": {"stop_loss": 0.05, "trailing_stop": True}},
            422,
            "trailing_stop",
        ),
        ({"start": "2018-03-01T00:00:00Z", "end": "2018-02-01T00:00:00Z"}, 422, "end"),
        ({"start": "2030-01-01T00:00:00Z"}, 404, "start"),
    ],
)
def test_bad_requests_name_the_field(client, change, status, field):
    response = client.post(URL, json={**REQUEST, **change})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    located = [str(part) for item in detail for part in item.get("loc", [])]
    assert field in located, detail


def test_it_needs_the_token_when_one_is_set(published, tmp_path):
    app = create_app(published, api_config(tmp_path, api_token=TOKEN))
    with TestClient(app) as guarded:
        assert guarded.post(URL, json=REQUEST).status_code == 401
        allowed = guarded.post(URL, json=REQUEST, headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200, allowed.text
