"""Reads keep answering while Dagster materializes (the API never opens the DuckDB file that
the ohlcv asset holds read-write; it reads the lake's atomically replaced Parquet files)."""

from __future__ import annotations

import threading

from api.main import create_app
from maestro_pipeline.settings import Settings
from tests.api.conftest import TestClient, api_config, materialize_market_data

LATER_MONTHS = tuple(f"2018-{m:02d}-01" for m in range(2, 10))


def test_bars_answer_without_errors_during_materialization(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    materialize_market_data(settings, months=("2018-01-01",))
    outcome: dict[str, BaseException] = {}

    def materialize_more() -> None:
        try:
            materialize_market_data(settings, months=LATER_MONTHS)
        except BaseException as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    writer = threading.Thread(target=materialize_more)
    statuses: list[int] = []
    counts: list[int] = []
    app = create_app(settings, api_config(tmp_path))
    with TestClient(app) as client:
        writer.start()
        while writer.is_alive() or not counts:
            for timeframe in ("30m", "1h"):
                response = client.get("/api/v2/bars/BTC-USD", params={"timeframe": timeframe})
                statuses.append(response.status_code)
                if response.status_code == 200 and timeframe == "1h":
                    counts.append(response.json()["count"])
            statuses.append(client.get("/api/v2/health").status_code)
        writer.join()
        final = client.get("/api/v2/bars/BTC-USD", params={"timeframe": "1h"}).json()
    assert "error" not in outcome, outcome.get("error")
    assert settings.warehouse_path.exists()  # Dagster did write the warehouse meanwhile
    errors = [s for s in statuses if s != 200]
    assert errors == [], f"{len(errors)} errors in {len(statuses)} requests"
    assert len(statuses) > 20
    assert counts == sorted(counts)  # months only ever appear
    assert final["count"] == 24 * (31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30)
