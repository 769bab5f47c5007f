"""Timeframes ('30m', '1h', '4h', '1d'): their length, parsed without any data library."""

from __future__ import annotations

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
DAY_MS = _UNIT_MS["d"]


def timeframe_ms(timeframe: str) -> int:
    """Length of a ccxt-style timeframe ('30m', '1h', '4h', '1d') in milliseconds."""
    unit = timeframe[-1:]
    count = timeframe[:-1]
    if unit not in _UNIT_MS or not count.isdigit() or int(count) <= 0:
        raise ValueError(
            f"invalid timeframe {timeframe!r}: expected a positive count and a unit of "
            "m, h, d or w, such as '30m', '1h', '4h' or '1d'"
        )
    return int(count) * _UNIT_MS[unit]
