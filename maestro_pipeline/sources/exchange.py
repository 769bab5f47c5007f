"""Bars from any ccxt exchange, paged by hand, rate limited, retried with backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable

import ccxt
import polars as pl
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from maestro_pipeline.engine.bars import timeframe_ms
from maestro_pipeline.keys import UnknownSymbolError
from maestro_pipeline.sources import RAW_SCHEMA

log = logging.getLogger(__name__)

# Errors worth another try: the request may succeed later. ccxt raises RateLimitExceeded for
# HTTP 429/418 and ExchangeNotAvailable for 5xx; both are NetworkErrors, listed for clarity.
RETRYABLE_ERRORS = (ccxt.RateLimitExceeded, ccxt.ExchangeNotAvailable, ccxt.NetworkError)


class ExchangeDownloadError(RuntimeError):
    """A download that could not complete; nothing partial is returned."""


class CcxtSource:
    """Downloads OHLCV bars through ccxt's unified ``fetch_ohlcv``.

    ccxt's own ``paginate`` is not used: without ``until`` it silently returns nothing for old
    ``since`` values and stops after 10 pages. Pages are requested from ``since`` onward, and
    the next page starts one timeframe after the last bar received.
    """

    def __init__(
        self,
        exchange_id: str = "binance",
        base_url: str | None = None,
        page_limit: int = 1000,
        max_attempts: int = 6,
        retry_base_seconds: float = 1.0,
        timeout_ms: int = 30_000,
        on_page: Callable[[int, int], None] | None = None,
    ) -> None:
        if exchange_id not in ccxt.exchanges:
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        if page_limit < 1:
            raise ValueError(f"page_limit must be positive, not {page_limit}")
        config: dict = {"enableRateLimit": True, "timeout": timeout_ms}
        if base_url:
            # Point the public REST API at another host (a mirror, a proxy, a local test server).
            config["urls"] = {"api": {"public": base_url.rstrip("/")}}
            config["options"] = {"fetchMarkets": {"types": ["spot"]}}
        self.exchange: ccxt.Exchange = getattr(ccxt, exchange_id)(config)
        self.name = exchange_id
        self.page_limit = page_limit
        self.on_page = on_page
        self._call = retry(
            retry=retry_if_exception_type(RETRYABLE_ERRORS),
            wait=wait_exponential(multiplier=retry_base_seconds, max=60 * retry_base_seconds),
            stop=stop_after_attempt(max_attempts),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )(self._call_once)

    @staticmethod
    def _call_once(method: Callable, *args, **kwargs):
        return method(*args, **kwargs)

    def _market_symbol(self, symbol: str) -> str:
        try:
            self._call(self.exchange.load_markets)
        except RETRYABLE_ERRORS as exc:
            raise ExchangeDownloadError(f"{self.name}: could not load markets: {exc}") from exc
        if symbol not in self.exchange.markets:
            known = ", ".join(sorted(self.exchange.markets)[:10])
            raise UnknownSymbolError(
                f"unknown symbol {symbol!r} on {self.name} (markets include: {known})"
            )
        return symbol

    def fetch_ohlcv(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        step = timeframe_ms(timeframe)
        if end_ms <= start_ms:
            raise ValueError(f"empty time range: start {start_ms} is not before end {end_ms}")
        self._market_symbol(symbol)
        rows: list[list] = []
        since = start_ms
        pages = 0
        while since < end_ms:
            try:
                page = self._call(
                    self.exchange.fetch_ohlcv,
                    symbol,
                    timeframe,
                    since,
                    self.page_limit,
                    {"until": end_ms - 1},
                )
            except RETRYABLE_ERRORS as exc:
                raise ExchangeDownloadError(
                    f"{self.name} {symbol} {timeframe}: page from {since} failed after retries: "
                    f"{exc}"
                ) from exc
            pages += 1
            if not page:
                break
            stamps = [row[0] for row in page if row and isinstance(row[0], int)]
            if not stamps:
                raise ExchangeDownloadError(
                    f"{self.name} {symbol} {timeframe}: a page from {since} has no readable "
                    "timestamp"
                )
            rows.extend(
                row for row in page if row and (row[0] is None or start_ms <= row[0] < end_ms)
            )
            if self.on_page:
                self.on_page(pages, len(rows))
            last = max(stamps)
            if last < since:
                raise ExchangeDownloadError(
                    f"{self.name} {symbol} {timeframe}: page from {since} went back to {last}"
                )
            since = last + step
        return _rows_to_frame(rows)


def _rows_to_frame(rows: list[list]) -> pl.DataFrame:
    """ccxt rows ``[ts, o, h, l, c, v]`` to ``RAW_SCHEMA``; short or odd rows become nulls."""
    columns = list(RAW_SCHEMA)
    padded = [(list(row) + [None] * len(columns))[: len(columns)] for row in rows]
    data = {name: [row[i] for row in padded] for i, name in enumerate(columns)}
    return pl.DataFrame(data, schema=RAW_SCHEMA, strict=False)
