"""What an exchange's error means: worth another try, or a request that will never succeed.

ccxt's exception classes alone cannot tell: it maps a 5xx whose body is the exchange's own JSON
(Binance ``{"code":-1001,...}``) to ``OperationFailed`` or ``ExchangeError`` depending on the
market type it guesses from the URL, and an HTML 400/403/404 to ``ExchangeNotAvailable``. So the
verdict reads the HTTP status and the JSON error code of the answer first, and falls back on
ccxt's class only when no answer arrived (timeouts, resets, refused connections).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import ccxt

# Binance's "General Server or Network issues" that its documentation says to retry:
# -1000 UNKNOWN, -1001 DISCONNECTED (internal error), -1003 TOO_MANY_REQUESTS, -1007 TIMEOUT.
TRANSIENT_CODES = frozenset({-1000, -1001, -1003, -1007})

# ccxt classes of failures that may pass; all are OperationFailed (ccxt's "try again later"
# branch, beside ExchangeError's "the request is wrong"), listed for the reader.
TRANSIENT_CCXT_ERRORS = (
    ccxt.OperationFailed,
    ccxt.RequestTimeout,
    ccxt.ExchangeNotAvailable,
    ccxt.DDoSProtection,
    ccxt.RateLimitExceeded,
)

# HTTP statuses that mean "later" although they are 4xx: request timeout, Binance's IP ban
# (418, with Retry-After) and too many requests.
TRANSIENT_4XX = frozenset({408, 418, 429})


@dataclass(frozen=True)
class HttpAnswer:
    """The last HTTP answer the exchange gave: status, headers and body."""

    status: int
    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True)
class Failure:
    """One failed request, judged."""

    transient: bool
    status: int | None  # HTTP status; None when no answer arrived
    code: int | None  # the exchange's JSON error code, when the body carries one
    message: str
    retry_after: float | None  # seconds the exchange asked us to wait

    def describe(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        head = ", ".join(parts)
        return f"{head}: {self.message}" if head else self.message


def _json_error(body: str) -> tuple[int | None, str | None]:
    """(code, msg) of a JSON error body such as ``{"code": -1001, "msg": "..."}``."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    code = data.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    msg = data.get("msg", data.get("message"))
    return code, str(msg) if msg is not None else None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def judge(exc: ccxt.BaseError, answer: HttpAnswer | None) -> Failure:
    """Whether ``exc`` (raised for ``answer``, None if none arrived) is worth another try."""
    status = answer.status if answer is not None else None
    code, msg = _json_error(answer.body) if answer is not None else (None, None)
    retry_after = retry_after_seconds(answer.headers) if answer is not None else None
    if code in TRANSIENT_CODES or (
        status is not None and (status >= 500 or status in TRANSIENT_4XX)
    ):
        transient = True
    elif status is not None and 400 <= status < 500:
        transient = False  # the request itself is wrong: unknown symbol, bad interval...
    else:
        transient = isinstance(exc, TRANSIENT_CCXT_ERRORS)
    message = msg or (str(exc) or type(exc).__name__)
    return Failure(transient, status, code, message[:300], retry_after)
