"""Breakout rules: price leaving a channel built from past bars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.strategies import features as ft
from maestro_pipeline.engine.strategy import (
    FloatParam,
    IndicatorCache,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)


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
        "Price-channel stop-and-reverse. The channel is the highest high and lowest low of the "
        "`window` bars before the current one; a close above the channel goes long, a close "
        "below it exits the long (and goes short when shorts are allowed)."
    ),
    defaults={"window": 20},
    space={"window": IntParam(5, 200)},
    signal_function=_channel_breakout,
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
        "Turtle-style Donchian breakout. Long when the close exceeds the highest high of the "
        "previous `entry_window` bars; exit on a close below the lowest low of the previous, "
        "shorter `exit_window` bars, so trends are entered slowly and left quickly. Shorts "
        "mirror the rule."
    ),
    defaults={"entry_window": 20, "exit_window": 10},
    space={"entry_window": IntParam(10, 300), "exit_window": IntParam(5, 150)},
    signal_function=_donchian_turtle,
    constraints=(LessThan("exit_window", "entry_window"),),
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
        "Keltner channel breakout. The channel is an EMA of the close plus and minus "
        "`multiplier` ATRs; long when the close crosses above the upper line, exit when it "
        "closes back below the EMA. Shorts mirror the rule."
    ),
    defaults={"window": 20, "atr_window": 10, "multiplier": 2.0},
    space={
        "window": IntParam(5, 200),
        "atr_window": IntParam(5, 100),
        "multiplier": FloatParam(0.5, 5.0, 0.25),
    },
    signal_function=_keltner,
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
        "Trend following with ATR. Long when the close crosses `multiplier` ATRs above the "
        "EMA of `window` bars (a volatility-scaled breakout); exit on a chandelier stop: the "
        "close falls more than `stop_multiplier` ATRs below the highest high of the last "
        "`window` bars. Shorts mirror the rule."
    ),
    defaults={"window": 50, "atr_window": 14, "multiplier": 1.0, "stop_multiplier": 3.0},
    space={
        "window": IntParam(5, 300),
        "atr_window": IntParam(5, 100),
        "multiplier": FloatParam(0.0, 5.0, 0.25),
        "stop_multiplier": FloatParam(0.5, 8.0, 0.25),
    },
    signal_function=_atr_trend,
)

STRATEGIES = (CHANNEL_BREAKOUT, DONCHIAN_TURTLE, KELTNER, ATR_TREND)
