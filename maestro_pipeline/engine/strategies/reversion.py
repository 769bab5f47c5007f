"""Mean-reversion rules: fade stretches away from an average."""

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
    from maestro_pipeline.engine.strategy import OHLCV, IndicatorCache

# Imported when the first signal is computed: the catalog itself needs none of them.
np = LazyModule("numpy")
ind = LazyModule("maestro_pipeline.engine.indicators")
ft = LazyModule("maestro_pipeline.engine.strategies.features")


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
        "Bollinger Bands reversion. The middle is the simple mean of the last `window` closes, "
        "the bands the middle +/- `n_std` population standard deviations (ddof 0) of the same "
        "closes. Long entry on a bar where the close is below the lower band after being at or "
        "above it on the previous bar; long exit on any bar where the close is above the "
        "middle. Short entry on a bar where the close is above the upper band after being at "
        "or below it; short exit on any bar where the close is below the middle."
    ),
    parameters={
        "window": IntParam(5, 200, default=20),
        "n_std": FloatParam(0.5, 4.0, 0.25, default=2.0),
    },
    signal_function=_bollinger,
    warmup=lambda p: p["window"] + 1,
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
        "Z-score mean reversion. z = (close - mean) / deviation, the mean and the population "
        "standard deviation (ddof 0) being those of the last `window` closes, the current one "
        "included. Long entry on a bar where z is below -`entry_z` after being at or above it "
        "on the previous bar; long exit on any bar where z > -`exit_z` (a partial reversion, "
        "unlike Bollinger's exit at the mean). Short entry on a bar where z is above `entry_z` "
        "after being at or below it; short exit on any bar where z < `exit_z`."
    ),
    parameters={
        "window": IntParam(10, 300, default=50),
        "entry_z": FloatParam(0.5, 4.0, 0.25, default=2.0),
        "exit_z": FloatParam(0.0, 3.0, 0.25, default=0.5),
    },
    signal_function=_mean_reversion_bands,
    constraints=(LessThan("exit_z", "entry_z"),),
    warmup=lambda p: p["window"] + 1,
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
        "VWAP reversion. The rolling VWAP is the sum of typical price x volume over the sum of "
        "volume of the last `window` bars, typical = (high + low + close) / 3; it starts on bar "
        "`window` - 1, the first full window. Long entry on a bar where the close crosses below "
        "VWAP x (1 - `deviation`): below it now, at or above it on the previous bar (being "
        "below is not enough); long exit on any bar where the close is above the VWAP. Short "
        "entry on a bar where the close crosses above VWAP x (1 + `deviation`); short exit on "
        "any bar where the close is below the VWAP."
    ),
    parameters={
        "window": IntParam(10, 500, default=48),
        "deviation": FloatParam(0.001, 0.1, log=True, default=0.01),
    },
    signal_function=_vwap_reversion,
    warmup=lambda p: p["window"] + 1,
)

STRATEGIES = (BOLLINGER, MEAN_REVERSION_BANDS, VWAP_REVERSION)
