"""Oscillator rules: buy the exit from oversold, sell at overbought."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.strategies import features as ft
from maestro_pipeline.engine.strategy import (
    OHLCV,
    FloatParam,
    IndicatorCache,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)


def _threshold_signals(oscillator: np.ndarray, lower: float, upper: float) -> SignalSet:
    """Long when the oscillator climbs back above `lower`, exit once it is above `upper`."""
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_above(oscillator, lower),
            long_exits=oscillator > upper,
            short_entries=ind.cross_below(oscillator, upper),
            short_exits=oscillator < lower,
        )


def _rsi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _threshold_signals(cache.get(ft.close_rsi, p["window"]), p["lower"], p["upper"])


RSI = Strategy(
    name="rsi",
    description=(
        "RSI reversal. Wilder's RSI of the close over `window` bars; long when it crosses "
        "back above `lower` (leaving oversold), exit once it is above `upper` (overbought). "
        "Shorts mirror the rule: enter when RSI falls back below `upper`, cover below `lower`."
    ),
    defaults={"window": 14, "lower": 30.0, "upper": 70.0},
    space={
        "window": IntParam(2, 50),
        "lower": FloatParam(5.0, 50.0),
        "upper": FloatParam(50.0, 95.0),
    },
    signal_function=_rsi,
    constraints=(LessThan("lower", "upper"),),
)


def _stochastic_lines(bars: OHLCV, n: int, k_smooth: int, d_smooth: int):
    return ind.stochastic(bars.high, bars.low, bars.close, n, k_smooth, d_smooth)


def _stochastic(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    k, d = cache.get(_stochastic_lines, p["window"], p["k_smooth"], p["d_smooth"])
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_above(k, d) & (d < p["lower"]),
            long_exits=ind.cross_below(k, d) & (d > p["upper"]),
            short_entries=ind.cross_below(k, d) & (d > p["upper"]),
            short_exits=ind.cross_above(k, d) & (d < p["lower"]),
        )


STOCHASTIC = Strategy(
    name="stochastic",
    description=(
        "Slow stochastic crossover. %K is the close's position in the `window`-bar high-low "
        "range smoothed over `k_smooth` bars, %D its mean over `d_smooth` bars. Long when %K "
        "crosses above %D while %D is below `lower` (oversold); exit when %K crosses below %D "
        "while %D is above `upper`. Shorts mirror the rule."
    ),
    defaults={"window": 14, "k_smooth": 3, "d_smooth": 3, "lower": 20.0, "upper": 80.0},
    space={
        "window": IntParam(5, 50),
        "k_smooth": IntParam(1, 10),
        "d_smooth": IntParam(1, 10),
        "lower": FloatParam(5.0, 50.0),
        "upper": FloatParam(50.0, 95.0),
    },
    signal_function=_stochastic,
    constraints=(LessThan("lower", "upper"),),
)


def _williams_line(bars: OHLCV, n: int) -> np.ndarray:
    return ind.williams_r(bars.high, bars.low, bars.close, n)


def _williams_r(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _threshold_signals(cache.get(_williams_line, p["window"]), p["lower"], p["upper"])


WILLIAMS_R = Strategy(
    name="williams_r",
    description=(
        "Williams %R reversal. %R places the close in the `window`-bar range on a -100..0 "
        "scale; long when it climbs back above `lower` (leaving oversold), exit once it is "
        "above `upper`. Shorts mirror the rule."
    ),
    defaults={"window": 14, "lower": -80.0, "upper": -20.0},
    space={
        "window": IntParam(5, 100),
        "lower": FloatParam(-95.0, -50.0),
        "upper": FloatParam(-50.0, -5.0),
    },
    signal_function=_williams_r,
    constraints=(LessThan("lower", "upper"),),
)


def _mfi_line(bars: OHLCV, n: int) -> np.ndarray:
    return ind.money_flow_index(bars.high, bars.low, bars.close, bars.volume, n)


def _mfi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _threshold_signals(cache.get(_mfi_line, p["window"]), p["lower"], p["upper"])


MFI = Strategy(
    name="mfi",
    description=(
        "Money Flow Index reversal. MFI is a volume-weighted RSI of the typical price over "
        "`window` bars; long when it climbs back above `lower`, exit once it is above `upper`. "
        "Shorts mirror the rule."
    ),
    defaults={"window": 14, "lower": 20.0, "upper": 80.0},
    space={
        "window": IntParam(5, 50),
        "lower": FloatParam(5.0, 50.0),
        "upper": FloatParam(50.0, 95.0),
    },
    signal_function=_mfi,
    constraints=(LessThan("lower", "upper"),),
)

STRATEGIES = (RSI, STOCHASTIC, WILLIAMS_R, MFI)
