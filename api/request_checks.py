"""Checks of request fields that several endpoints share; each failure names its field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from api.errors import FieldError
from maestro_pipeline.catalog import load_catalog
from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.keys import UnknownSymbolError, slug_symbol, symbol_slug


def utc(value: datetime | None, location: str, name: str) -> datetime | None:
    """``value`` in UTC (a naive one is taken as UTC); 422 when it cannot be converted."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise FieldError(422, location, name, f"{name} {value} is out of range") from None


def runnable_strategy(name: str) -> Any:
    """The catalog's strategy ``name``; 422 when it is unknown or cannot be loaded."""
    catalog = load_catalog()
    entry = catalog.entry(name)
    if entry is None:
        raise FieldError(
            422,
            "body",
            "strategy",
            f"unknown strategy {name!r}; known: {', '.join(catalog.names())}",
        )
    if entry.strategy is None:
        raise FieldError(422, "body", "strategy", f"strategy {name!r} cannot run: {entry.error}")
    return entry.strategy


def checked_symbol(symbol: str, location: str) -> str:
    """'BTC/USD' from 'BTC-USD' or 'BTC/USD'; 422 naming the field for anything malformed."""
    try:
        return slug_symbol(symbol_slug(symbol))
    except UnknownSymbolError as exc:
        raise FieldError(422, location, "symbol", str(exc)) from None


def checked_timeframe(timeframe: str, location: str) -> str:
    """``timeframe``; 422 naming the field when it is malformed."""
    try:
        timeframe_ms(timeframe)
    except ValueError as exc:
        raise FieldError(422, location, "timeframe", str(exc)) from None
    return timeframe


def bars_timeframe(timeframe: str, configured: Sequence[str], location: str) -> str:
    """A timeframe the lake holds bars of: 422 when malformed, 404 when not ``configured``."""
    checked_timeframe(timeframe, location)
    if timeframe not in configured:
        raise FieldError(
            404,
            location,
            "timeframe",
            f"no {timeframe} bars: the configured timeframes are {', '.join(configured)}",
        )
    return timeframe


def symbol_and_timeframe(symbol: str, timeframe: str) -> str:
    """The body's symbol ('BTC/USD'); 422 naming the field for a malformed symbol or
    timeframe (whether either is configured is the endpoint's to say)."""
    checked = checked_symbol(symbol, "body")
    checked_timeframe(timeframe, "body")
    return checked
