"""Mean-reversion rules: fade stretches away from an average."""

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


def _bollinger(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    middle = cache.get(ft.close_sma, p["window"])
    width = p["n_std"] * cache.get(ft.close_std, p["window"])
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_below(close, middle - width),
            long_exits=close > middle,
            short_entries=ind.cross_above(close, middle + width),
            short_exits=close < middle,
        )


BOLLINGER = Strategy(
    name="bollinger",
    description=(
        "Bollinger Bands reversion. Bands sit `n_std` population standard deviations around "
        "the SMA of `window` closes; long when the close crosses below the lower band, exit "
        "when it closes back above the middle. Shorts mirror the rule at the upper band."
    ),
    defaults={"window": 20, "n_std": 2.0},
    space={"window": IntParam(5, 200), "n_std": FloatParam(0.5, 4.0, 0.25)},
    signal_function=_bollinger,
)


def _mean_reversion_bands(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    mean = cache.get(ft.close_sma, p["window"])
    spread = cache.get(ft.close_std, p["window"])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (cache.bars.close - mean) / spread
        return SignalSet(
            long_entries=ind.cross_below(z, -p["entry_z"]),
            long_exits=z > -p["exit_z"],
            short_entries=ind.cross_above(z, p["entry_z"]),
            short_exits=z < p["exit_z"],
        )


MEAN_REVERSION_BANDS = Strategy(
    name="mean_reversion_bands",
    description=(
        "Z-score mean reversion. z is the close's distance from the SMA of `window` closes in "
        "standard deviations; long when z crosses below -`entry_z`, take profit as soon as it "
        "recovers above -`exit_z` (a partial reversion, unlike Bollinger's exit at the mean). "
        "Shorts mirror the rule."
    ),
    defaults={"window": 50, "entry_z": 2.0, "exit_z": 0.5},
    space={
        "window": IntParam(10, 300),
        "entry_z": FloatParam(0.5, 4.0, 0.25),
        "exit_z": FloatParam(0.0, 3.0, 0.25),
    },
    signal_function=_mean_reversion_bands,
    constraints=(LessThan("exit_z", "entry_z"),),
)


def _vwap_line(bars: OHLCV, n: int) -> np.ndarray:
    return ind.rolling_vwap(bars.high, bars.low, bars.close, bars.volume, n)


def _vwap_reversion(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    vwap = cache.get(_vwap_line, p["window"])
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_below(close, vwap * (1.0 - p["deviation"])),
            long_exits=close > vwap,
            short_entries=ind.cross_above(close, vwap * (1.0 + p["deviation"])),
            short_exits=close < vwap,
        )


VWAP_REVERSION = Strategy(
    name="vwap_reversion",
    description=(
        "VWAP scalping. The rolling VWAP is the volume-weighted mean typical price of the last "
        "`window` bars; long when the close drops more than `deviation` (a fraction) below it, "
        "exit as soon as the close is back above the VWAP. Shorts mirror the rule."
    ),
    defaults={"window": 48, "deviation": 0.01},
    space={"window": IntParam(10, 500), "deviation": FloatParam(0.001, 0.1, log=True)},
    signal_function=_vwap_reversion,
)

STRATEGIES = (BOLLINGER, MEAN_REVERSION_BANDS, VWAP_REVERSION)
