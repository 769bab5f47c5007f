"""Bars from any ccxt exchange, paged by hand, rate limited, retried with backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import ccxt
import polars as pl
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential,
)

from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.keys import UnknownSymbolError
from maestro_pipeline.sources import RAW_SCHEMA
from maestro_pipeline.sources.exchange_errors import Failure, HttpAnswer, judge

log = logging.getLogger(__name__)


class ExchangeDownloadError(RuntimeError):
    """A download that could not complete; nothing partial is returned."""


class ExchangeRequestRejected(ExchangeDownloadError):
    """The exchange refused the request itself (unknown symbol, bad interval...): not retried."""


class _Failed(Exception):
    """One failed request with its verdict (internal: the caller names what was asked)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _Failed) and exc.failure.transient


def _utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CcxtSource:
    """Downloads OHLCV bars through ccxt's unified ``fetch_ohlcv``.

    ccxt's own ``paginate`` is not used: without ``until`` it silently returns nothing for old
    ``since`` values and stops after 10 pages. Pages are requested from ``since`` onward, and
    the next page starts one timeframe after the last bar received.

    A failed request is retried when the exchange's answer means "later" (HTTP 5xx, 408/418/429,
    a transient exchange code, a timeout or a dropped connection; see ``exchange_errors``), with
    exponential backoff that waits at least what ``Retry-After`` asks. A request the exchange
    rejects as wrong fails at once. ``requests`` counts the attempts made (market list and pages),
    ``retries`` those that repeated a failed one.
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
        max_retry_after_seconds: float = 300.0,
    ) -> None:
        if exchange_id not in ccxt.exchanges:
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        if page_limit < 1:
            raise ValueError(f"page_limit must be positive, not {page_limit}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be positive, not {max_attempts}")
        config: dict = {"enableRateLimit": True, "timeout": timeout_ms}
        if base_url:
            # Point the public REST API at another host (a mirror, a proxy, a local test server).
            config["urls"] = {"api": {"public": base_url.rstrip("/")}}
            config["options"] = {"fetchMarkets": {"types": ["spot"]}}
        self.exchange: ccxt.Exchange = getattr(ccxt, exchange_id)(config)
        self._answer: HttpAnswer | None = None
        self._observe_answers()
        self.name = exchange_id
        self.page_limit = page_limit
        self.on_page = on_page
        self.max_attempts = max_attempts
        self.max_retry_after_seconds = max_retry_after_seconds
        self.requests = 0
        self.retries = 0
        self._backoff = wait_exponential(multiplier=retry_base_seconds, max=60 * retry_base_seconds)
        self._retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            wait=self._wait,
            stop=stop_any(stop_after_attempt(max_attempts), self._asked_to_wait_too_long),
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _observe_answers(self) -> None:
        """Keep the status, headers and body of each HTTP answer: ccxt's exception does not
        carry the status, which (with the body's code) says whether a retry can help."""
        original = self.exchange.on_rest_response

        def on_rest_response(code, reason, url, method, headers, body, *request):
            self._answer = HttpAnswer(int(code), dict(headers or {}), body or "")
            return original(code, reason, url, method, headers, body, *request)

        self.exchange.on_rest_response = on_rest_response

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.failure.retry_after if isinstance(exc, _Failed) else None
        return max(backoff, asked) if asked is not None else backoff

    def _asked_to_wait_too_long(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.failure.retry_after if isinstance(exc, _Failed) else None
        return asked is not None and asked > self.max_retry_after_seconds

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            self.name,
            state.attempt_number,
            exc,
            sleep,
        )

    def _call_once(self, method: Callable, *args, **kwargs):
        self._answer = None  # a timeout leaves no answer: do not judge by an older one
        self.requests += 1
        try:
            return method(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise _Failed(judge(exc, self._answer)) from exc

    def _call(self, method: Callable, *args, **kwargs):
        return self._retrying(self._call_once, method, *args, **kwargs)

    def _failed(self, what: str, exc: _Failed) -> ExchangeDownloadError:
        """The error for a request that failed for good, naming what was asked."""
        failure = exc.failure
        if not failure.transient:
            return ExchangeRequestRejected(
                f"{what}: the exchange rejected the request ({failure.describe()}); not retried"
            )
        attempts = self._retrying.statistics.get("attempt_number", 1)
        if failure.retry_after is not None and failure.retry_after > self.max_retry_after_seconds:
            reason = (
                f"the exchange asks to wait {failure.retry_after:.0f} s, more than the "
                f"{self.max_retry_after_seconds:.0f} s allowed"
            )
        else:
            reason = f"{attempts} attempts"
        return ExchangeDownloadError(
            f"{what} failed after retries ({reason}); last answer: {failure.describe()}"
        )

    def _market_symbol(self, symbol: str) -> str:
        try:
            self._call(self.exchange.load_markets)
        except _Failed as exc:
            raise self._failed(f"{self.name}: loading markets", exc) from exc.__cause__
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
            except _Failed as exc:
                what = f"{self.name} {symbol} {timeframe}: page from {_utc_text(since)} ({since})"
                raise self._failed(what, exc) from exc.__cause__
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
