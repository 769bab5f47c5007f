"""Oscillator rules: buy the exit from oversold, sell at overbought."""

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
        "RSI reversal. Wilder's RSI of the close over `window` bars: the Wilder averages "
        "(alpha = 1/n, seeded with the mean of the first n one-bar changes) of gains and "
        "losses, RSI = 100 - 100 / (1 + gain / loss), 100 when the average loss is 0. Long "
        "entry on a bar where RSI is above `lower` after being at or below it on the previous "
        "bar; long exit on any bar where RSI > `upper`. Short entry on a bar where RSI is "
        "below `upper` after being at or above it; short exit on any bar where RSI < `lower`."
    ),
    parameters={
        "window": IntParam(2, 50, default=14),
        "lower": FloatParam(5.0, 50.0, default=30.0),
        "upper": FloatParam(50.0, 95.0, default=70.0),
    },
    signal_function=_rsi,
    constraints=(LessThan("lower", "upper"),),
    warmup=lambda p: 20 * p["window"],
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
        "Slow stochastic crossover. Fast %K = 100 x (close - lowest low) / (highest high - "
        "lowest low) over the last `window` bars, the current one included (undefined when the "
        "range is 0); %K is its simple mean over `k_smooth` bars and %D the simple mean of %K "
        "over `d_smooth` bars. Long entry on a bar where %K is above %D after being at or "
        "below it on the previous bar, while %D < `lower`; long exit on a bar where %K is "
        "below %D after being at or above it, while %D > `upper`. Shorts enter on the long "
        "exit's condition and cover on the long entry's."
    ),
    parameters={
        "window": IntParam(5, 50, default=14),
        "k_smooth": IntParam(1, 10, default=3),
        "d_smooth": IntParam(1, 10, default=3),
        "lower": FloatParam(5.0, 50.0, default=20.0),
        "upper": FloatParam(50.0, 95.0, default=80.0),
    },
    signal_function=_stochastic,
    constraints=(LessThan("lower", "upper"),),
    warmup=lambda p: p["window"] + p["k_smooth"] + p["d_smooth"],
)


def _williams_line(bars: OHLCV, n: int) -> np.ndarray:
    return ind.williams_r(bars.high, bars.low, bars.close, n)


def _williams_r(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _threshold_signals(cache.get(_williams_line, p["window"]), p["lower"], p["upper"])


WILLIAMS_R = Strategy(
    name="williams_r",
    description=(
        "Williams %R reversal. %R = -100 x (highest high - close) / (highest high - lowest "
        "low) over the last `window` bars, the current one included (-100..0). Long entry on "
        "a bar where %R is above `lower` after being at or below it on the previous bar; long "
        "exit on any bar where %R > `upper`. Short entry on a bar where %R is below `upper` "
        "after being at or above it; short exit on any bar where %R < `lower`."
    ),
    parameters={
        "window": IntParam(5, 100, default=14),
        "lower": FloatParam(-95.0, -50.0, default=-80.0),
        "upper": FloatParam(-50.0, -5.0, default=-20.0),
    },
    signal_function=_williams_r,
    constraints=(LessThan("lower", "upper"),),
    warmup=lambda p: p["window"] + 1,
)


def _mfi_line(bars: OHLCV, n: int) -> np.ndarray:
    return ind.money_flow_index(bars.high, bars.low, bars.close, bars.volume, n)


def _mfi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _threshold_signals(cache.get(_mfi_line, p["window"]), p["lower"], p["upper"])


MFI = Strategy(
    name="mfi",
    description=(
        "Money Flow Index reversal. typical = (high + low + close) / 3 and flow = typical x "
        "volume; over the last `window` bars, positive flow sums the flows of bars whose "
        "typical price rose from the previous bar and negative flow those where it fell "
        "(defined from bar `window`). MFI = 100 - 100 / (1 + positive / negative), 100 when "
        "negative is 0. Long entry on a bar where MFI is above `lower` after being at or "
        "below it on the previous bar; long exit on any bar where MFI > `upper`. Short entry "
        "on a bar where MFI is below `upper` after being at or above it; short exit on any bar "
        "where MFI < `lower`."
    ),
    parameters={
        "window": IntParam(5, 50, default=14),
        "lower": FloatParam(5.0, 50.0, default=20.0),
        "upper": FloatParam(50.0, 95.0, default=80.0),
    },
    signal_function=_mfi,
    constraints=(LessThan("lower", "upper"),),
    warmup=lambda p: p["window"] + 1,
)

STRATEGIES = (RSI, STOCHASTIC, WILLIAMS_R, MFI)
