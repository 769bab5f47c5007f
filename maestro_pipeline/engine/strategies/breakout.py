"""Breakout rules: price leaving a channel built from past bars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from maestro_pipeline.engine.authoring import (
    FloatParam,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)
from maestro_pipeline.engine.lazy import LazyModule

if TYPE_CHECKING:
    from maestro_pipeline.engine.strategy import IndicatorCache

# Imported when the first signal is computed: the catalog itself needs none of them.
np = LazyModule("numpy")
ind = LazyModule("maestro_pipeline.engine.indicators")
ft = LazyModule("maestro_pipeline.engine.strategies.features")


def _channel_breakout(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    upper = cache.get(ft.prior_highest_high, p["window"])
    lower = cache.get(ft.prior_lowest_low, p["window"])
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        breaks_up, breaks_down = close > upper, close < lower
    return SignalSet(breaks_up, breaks_down, breaks_down, breaks_up)


CHANNEL_BREAKOUT = Strategy(
    name="channel_breakout",
    description=(
        "Price-channel stop-and-reverse. The channel is the highest high and the lowest low of "
        "the `window` bars before the current one (the current bar excluded). Long entry on "
        "every bar whose close is strictly above the channel's high; long exit on every bar "
        "whose close is strictly below its low. Shorts enter on the long exit's bars and cover "
        "on the long entry's bars."
    ),
    parameters={"window": IntParam(5, 200, default=20)},
    signal_function=_channel_breakout,
    warmup=lambda p: p["window"] + 1,
)


def _donchian_turtle(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=close > cache.get(ft.prior_highest_high, p["entry_window"]),
            long_exits=close < cache.get(ft.prior_lowest_low, p["exit_window"]),
            short_entries=close < cache.get(ft.prior_lowest_low, p["entry_window"]),
            short_exits=close > cache.get(ft.prior_highest_high, p["exit_window"]),
        )


DONCHIAN_TURTLE = Strategy(
    name="donchian_turtle",
    description=(
        "Turtle-style Donchian breakout; channels exclude the current bar. Long entry on every "
        "bar whose close is strictly above the highest high of the previous `entry_window` "
        "bars; long exit on every bar whose close is strictly below the lowest low of the "
        "previous `exit_window` bars (shorter, so trends are entered slowly and left quickly). "
        "Short entry on a close strictly below the lowest low of the previous `entry_window` "
        "bars; short exit on a close strictly above the highest high of the previous "
        "`exit_window` bars."
    ),
    parameters={
        "entry_window": IntParam(10, 300, default=20),
        "exit_window": IntParam(5, 150, default=10),
    },
    signal_function=_donchian_turtle,
    constraints=(LessThan("exit_window", "entry_window"),),
    warmup=lambda p: p["entry_window"] + 1,
)


def _keltner(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    middle = cache.get(ft.close_ema, p["window"])
    width = p["multiplier"] * cache.get(ft.average_true_range, p["atr_window"])
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_above(close, middle + width),
            long_exits=close < middle,
            short_entries=ind.cross_below(close, middle - width),
            short_exits=close > middle,
        )


KELTNER = Strategy(
    name="keltner",
    description=(
        "Keltner channel breakout. The middle line is the EMA of the close over `window` bars "
        "(alpha = 2/(n+1), seeded with a simple mean), the bands the middle +/- `multiplier` x "
        "Wilder's ATR over `atr_window` bars. Long entry on a bar where the close is above the "
        "upper band after being at or below it on the previous bar; long exit on any bar where "
        "the close is below the middle line. Short entry on a bar where the close is below the "
        "lower band after being at or above it; short exit on any bar where the close is above "
        "the middle line."
    ),
    parameters={
        "window": IntParam(5, 200, default=20),
        "atr_window": IntParam(5, 100, default=10),
        "multiplier": FloatParam(0.5, 5.0, 0.25, default=2.0),
    },
    signal_function=_keltner,
    warmup=lambda p: max(10 * p["window"], 20 * p["atr_window"]),
)


def _atr_trend(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    trend = cache.get(ft.close_ema, p["window"])
    average_range = cache.get(ft.average_true_range, p["atr_window"])
    entry_width = p["multiplier"] * average_range
    stop_width = p["stop_multiplier"] * average_range
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_above(close, trend + entry_width),
            long_exits=close < cache.get(ft.highest_high, p["window"]) - stop_width,
            short_entries=ind.cross_below(close, trend - entry_width),
            short_exits=close > cache.get(ft.lowest_low, p["window"]) + stop_width,
        )


ATR_TREND = Strategy(
    name="atr_trend",
    description=(
        "Trend following with ATR. trend is the EMA of the close over `window` bars and ATR "
        "Wilder's average true range over `atr_window` bars. Long entry on a bar where the "
        "close is above trend + `multiplier` x ATR after being at or below it on the previous "
        "bar; long exit (a chandelier stop) on any bar where the close is strictly below the "
        "highest high of the last `window` bars, the current bar included, minus "
        "`stop_multiplier` x ATR. Short entry on a bar where the close is below trend - "
        "`multiplier` x ATR after being at or above it; short exit on any bar where the close "
        "is strictly above the lowest low of the last `window` bars (current included) plus "
        "`stop_multiplier` x ATR."
    ),
    parameters={
        "window": IntParam(5, 300, default=50),
        "atr_window": IntParam(5, 100, default=14),
        "multiplier": FloatParam(0.0, 5.0, 0.25, default=1.0),
        "stop_multiplier": FloatParam(0.5, 8.0, 0.25, default=3.0),
    },
    signal_function=_atr_trend,
    warmup=lambda p: max(10 * p["window"], 20 * p["atr_window"]),
)

STRATEGIES = (CHANNEL_BREAKOUT, DONCHIAN_TURTLE, KELTNER, ATR_TREND)
