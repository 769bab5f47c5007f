"""A Binance-compatible market-data server on 127.0.0.1 for tests of the real ccxt client.

Serves ``GET /api/v3/exchangeInfo`` and ``GET /api/v3/klines`` from real sample bars, and can be
told to answer the next kline requests with an HTTP error (an HTML proxy page, or Binance's own
JSON error body with a ``Retry-After``), a stall, or a malformed row.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import polars as pl

TIMEFRAME_MS = {"1m": 60_000, "30m": 1_800_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}


@dataclass(frozen=True)
class Fault:
    """One injected answer to a kline request: an HTTP status with a body (a JSON object is
    sent as Binance sends its errors), extra headers, or a stall before the real answer."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0


# Binance's documented error bodies (https://developers.binance.com/docs/binance-spot-api-docs).
INTERNAL_ERROR = {
    "code": -1001,
    "msg": "Internal error; unable to process your request. Please try again.",
}
BACKEND_TIMEOUT = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
}
UNKNOWN_ERROR = {
    "code": -1000,
    "msg": "An unknown error occured while processing the request.",
}
TOO_MANY_REQUESTS = {"code": -1003, "msg": "Too many requests."}
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}


def _rows(bars: pl.DataFrame) -> list[tuple]:
    return bars.select(
        pl.col("timestamp").dt.epoch("ms"), "open", "high", "low", "close", "volume"
    ).rows()


class BinanceLikeServer:
    """Holds bars per unified symbol (``BTC/USDT``, served as ``BTCUSDT``) and injected faults."""

    def __init__(self, bars_by_symbol: dict[str, pl.DataFrame], max_limit: int = 1000) -> None:
        self.assets = {sym.replace("/", ""): tuple(sym.split("/")) for sym in bars_by_symbol}
        self.klines = {sym.replace("/", ""): _rows(frame) for sym, frame in bars_by_symbol.items()}
        self.max_limit = max_limit
        # Answers to the next kline requests: None (a normal answer), an HTTP status (429 with
        # Binance's -1003 body, others with a plain-text proxy page) or a Fault.
        self.faults: deque[int | Fault | None] = deque()
        self.kline_requests = 0
        self.kline_times: list[float] = []  # time.monotonic() at each kline request
        self.malformed_at: dict[str, int] = {}  # symbol id -> open time of a garbled row
        self.fail_after: int | None = None  # every kline request after this count fails
        self.fail_with = Fault(500, "Internal Server Error")  # ... with this answer
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def serve(self, symbol: str, bars: pl.DataFrame) -> None:
        """Answer later requests for ``symbol`` with ``bars`` (a revised history)."""
        self.klines[symbol.replace("/", "")] = _rows(bars)

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

            def _send(self, status: int, body: object, headers: dict | None = None) -> None:
                text = isinstance(body, str)
                payload = body.encode() if text else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if text else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                # The client may have given up already (a stall past its timeout).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path.endswith("/exchangeInfo"):
                    return self._send(200, server._exchange_info())
                if not url.path.endswith("/klines"):
                    return self._send(404, {"code": -1, "msg": f"no route {url.path}"})
                with server._lock:
                    server.kline_requests += 1
                    server.kline_times.append(time.monotonic())
                    fault = server.faults.popleft() if server.faults else None
                    if server.fail_after is not None and server.kline_requests > server.fail_after:
                        fault = server.fail_with
                if fault == 429:
                    fault = Fault(429, TOO_MANY_REQUESTS)
                elif isinstance(fault, int):
                    fault = Fault(fault, "Service Unavailable")
                if fault is not None and fault.stall_seconds:
                    time.sleep(fault.stall_seconds)
                if fault is not None and fault.status != 200:
                    return self._send(fault.status, fault.body, fault.headers)
                status, body = server._klines(parse_qs(url.query))
                return self._send(status, body)

        return Handler
