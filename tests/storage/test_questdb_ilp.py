"""The official QuestDB client, driven by our ingest code, against a local ILP/HTTP endpoint.

No QuestDB server runs here; this checks the exact line protocol our writes produce (table,
symbol columns, fields, nanosecond designated timestamps), which is what QuestDB ingests.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import psycopg
import pytest

from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.storage.questdb import QuestDBConfig, QuestDBWarehouse, send_bars_ilp


@pytest.fixture
def ilp_endpoint():
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # protocol negotiation: answer like an older server
            self.send_response(404)
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, body))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http::addr=127.0.0.1:{server.server_address[1]};", received
    server.shutdown()
    server.server_close()


def test_bars_are_sent_as_ilp_lines_with_symbols_and_nanosecond_timestamps(ilp_endpoint, btc_30m):
    conf, received = ilp_endpoint
    base = btc_30m.head(8)
    sent = send_bars_ilp(conf, "sample", "BTC/USD", {"30m": base, "4h": resample_bars(base, "4h")})
    assert sent == 9
    assert len(received) == 1  # one request: the month lands in one transaction
    path, body = received[0]
    assert path.startswith("/write")
    lines = body.decode().strip().split("\n")
    assert len(lines) == 9
    first = lines[0]
    head, fields, stamp = first.split(" ")
    assert head == "ohlcv,exchange=sample,symbol=BTC/USD,timeframe=30m"
    row = base.row(0, named=True)
    assert fields == (
        f"open={row['open']},high={row['high']},low={row['low']},"
        f"close={row['close']},volume={row['volume']}"
    )
    assert int(stamp) == int(row["timestamp"].timestamp()) * 1_000_000_000
    assert lines[-1].startswith("ohlcv,exchange=sample,symbol=BTC/USD,timeframe=4h ")


def test_nothing_is_sent_for_empty_months(ilp_endpoint):
    conf, received = ilp_endpoint
    empty = pl.DataFrame(schema={"timestamp": pl.Datetime("ms", "UTC"), "open": pl.Float64})
    assert send_bars_ilp(conf, "sample", "BTC/USD", {"30m": empty}) == 0
    assert received == []


def test_unreachable_server_fails_clearly():
    config = QuestDBConfig(host="127.0.0.1", pg_port=1)
    with pytest.raises(psycopg.OperationalError, match=r"127\.0\.0\.1"):
        QuestDBWarehouse(config)
