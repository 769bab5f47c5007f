"""A Binance-compatible market-data server on 127.0.0.1 for tests of the real ccxt client.

Serves ``GET /api/v3/exchangeInfo`` and ``GET /api/v3/klines`` from real sample bars, and can be
told to answer the next requests with an HTTP error or a malformed row.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import polars as pl

TIMEFRAME_MS = {"1m": 60_000, "30m": 1_800_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}


class BinanceLikeServer:
    """Holds bars per unified symbol (``BTC/USDT``, served as ``BTCUSDT``) and injected faults."""

    def __init__(self, bars_by_symbol: dict[str, pl.DataFrame], max_limit: int = 1000) -> None:
        self.assets = {sym.replace("/", ""): tuple(sym.split("/")) for sym in bars_by_symbol}
        self.klines = {
            sym.replace("/", ""): frame.select(
                pl.col("timestamp").dt.epoch("ms"), "open", "high", "low", "close", "volume"
            ).rows()
            for sym, frame in bars_by_symbol.items()
        }
        self.max_limit = max_limit
        self.faults: deque[int | str] = deque()
        self.kline_requests = 0
        self.malformed_at: dict[str, int] = {}  # symbol id -> open time of a garbled row
        self.fail_after: int | None = None  # every kline request after this count fails with 500
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/api/v3"

    def __enter__(self) -> BinanceLikeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _exchange_info(self) -> dict:
        symbols = []
        for sym, (base, quote) in self.assets.items():
            symbols.append(
                {"symbol": sym, "baseAsset": base, "quoteAsset": quote, "status": "TRADING"}
            )
        return {"timezone": "UTC", "serverTime": 0, "symbols": symbols}

    def _klines(self, query: dict[str, list[str]]) -> tuple[int, object]:
        sym = query.get("symbol", [""])[0]
        if sym not in self.klines:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        step = TIMEFRAME_MS[query.get("interval", ["1m"])[0]]
        limit = min(int(query.get("limit", ["500"])[0]), self.max_limit)
        start = int(query.get("startTime", ["0"])[0])
        end = int(query.get("endTime", [str(2**62)])[0])
        rows = []
        for ts, o, h, low, c, v in self.klines[sym]:
            if ts < start or ts > end:
                continue
            row = [
                ts,
                str(o),
                str(h),
                str(low),
                str(c),
                str(v),
                ts + step - 1,
                "0",
                1,
                "0",
                "0",
                "0",
            ]
            if self.malformed_at.get(sym) == ts:
                row[2] = "not-a-number"
            rows.append(row)
            if len(rows) == limit:
                break
        return 200, rows

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: object) -> None:
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path.endswith("/exchangeInfo"):
                    return self._send(200, server._exchange_info())
                if not url.path.endswith("/klines"):
                    return self._send(404, {"code": -1, "msg": f"no route {url.path}"})
                with server._lock:
                    server.kline_requests += 1
                    fault = server.faults.popleft() if server.faults else None
                    dead = (
                        server.fail_after is not None and server.kline_requests > server.fail_after
                    )
                if dead:
                    return self._send(500, "Internal Server Error")
                if fault == 429:
                    return self._send(429, {"code": -1003, "msg": "Too many requests."})
                if isinstance(fault, int):
                    return self._send(fault, "Service Unavailable")
                status, body = server._klines(parse_qs(url.query))
                return self._send(status, body)

        return Handler
