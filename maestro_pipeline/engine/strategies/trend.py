"""Trend-following rules: moving-average crosses and trend-direction indicators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.strategies import features as ft
from maestro_pipeline.engine.strategy import (
    OHLCV,
    CategoricalParam,
    FloatParam,
    IndicatorCache,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)


def _flip_signals(trend: np.ndarray) -> SignalSet:
    """Enter on a change of direction, exit when the direction turns against the position."""
    previous = ind.shift(trend)
    return SignalSet(
        long_entries=(trend > 0) & (previous < 0),
        long_exits=trend < 0,
        short_entries=(trend < 0) & (previous > 0),
        short_exits=trend > 0,
    )


def _cross_signals(fast: np.ndarray, slow: np.ndarray) -> SignalSet:
    up, down = ind.cross_above(fast, slow), ind.cross_below(fast, slow)
    return SignalSet(up, down, down, up)


def _ema_cross(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    average = ft.close_ema if p["ma_type"] == "ema" else ft.close_sma
    return _cross_signals(cache.get(average, p["fast"]), cache.get(average, p["slow"]))


EMA_CROSS = Strategy(
    name="ema_cross",
    description=(
        "Moving-average crossover. Goes long when the fast average of the close crosses above "
        "the slow one and leaves (or reverses short) when it crosses back below. EMAs are "
        "seeded with the simple mean of their first window; ma_type='sma' uses simple means."
    ),
    defaults={"fast": 12, "slow": 26, "ma_type": "ema"},
    space={
        "fast": IntParam(2, 100),
        "slow": IntParam(5, 400),
        "ma_type": CategoricalParam(("ema", "sma")),
    },
    signal_function=_ema_cross,
    constraints=(LessThan("fast", "slow"),),
)


def _macd_lines(bars: OHLCV, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray]:
    return ind.macd(bars.close, fast, slow, signal)


def _macd(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    line, signal = cache.get(_macd_lines, p["fast"], p["slow"], p["signal"])
    return _cross_signals(line, signal)


MACD = Strategy(
    name="macd",
    description=(
        "MACD signal-line cross. The MACD line is EMA(fast) minus EMA(slow) of the close and "
        "the signal line its EMA over `signal` bars; long when MACD crosses above the signal "
        "line, exit (or short) when it crosses below."
    ),
    defaults={"fast": 12, "slow": 26, "signal": 9},
    space={"fast": IntParam(2, 50), "slow": IntParam(5, 200), "signal": IntParam(2, 50)},
    signal_function=_macd,
    constraints=(LessThan("fast", "slow"),),
)


def _triple_ma(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    fast, mid, slow = (cache.get(ft.close_sma, p[k]) for k in ("fast", "mid", "slow"))
    with np.errstate(invalid="ignore"):
        aligned_up = (fast > mid) & (mid > slow)
        aligned_down = (fast < mid) & (mid < slow)
        return SignalSet(
            long_entries=ind.became_true(aligned_up),
            long_exits=fast < mid,
            short_entries=ind.became_true(aligned_down),
            short_exits=fast > mid,
        )


TRIPLE_MA = Strategy(
    name="triple_ma",
    description=(
        "Triple simple moving average alignment. Long when the fast, middle and slow SMAs of "
        "the close become stacked upward (fast > mid > slow); exit when the fast SMA falls "
        "back below the middle one. Shorts mirror the rule."
    ),
    defaults={"fast": 5, "mid": 20, "slow": 50},
    space={"fast": IntParam(2, 50), "mid": IntParam(5, 150), "slow": IntParam(20, 400)},
    signal_function=_triple_ma,
    constraints=(LessThan("fast", "mid"), LessThan("mid", "slow")),
)


def _ichimoku_lines(bars: OHLCV, tenkan: int, kijun: int, senkou: int):
    return ind.ichimoku(bars.high, bars.low, tenkan, kijun, senkou)


def _ichimoku(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    tenkan, kijun, span_a, span_b = cache.get(_ichimoku_lines, p["tenkan"], p["kijun"], p["senkou"])
    close = cache.bars.close
    top, bottom = np.fmax(span_a, span_b), np.fmin(span_a, span_b)
    with np.errstate(invalid="ignore"):
        bullish = (tenkan > kijun) & (close > top)
        bearish = (tenkan < kijun) & (close < bottom)
        return SignalSet(
            long_entries=ind.became_true(bullish),
            long_exits=(tenkan < kijun) | (close < bottom),
            short_entries=ind.became_true(bearish),
            short_exits=(tenkan > kijun) | (close > top),
        )


ICHIMOKU = Strategy(
    name="ichimoku",
    description=(
        "Ichimoku cloud trend. Long when the tenkan-sen is above the kijun-sen and the close "
        "is above the cloud (both senkou spans, displaced forward by `kijun` bars so only "
        "past bars form the cloud); exit when tenkan drops below kijun or the close falls "
        "below the cloud. Shorts mirror the rule."
    ),
    defaults={"tenkan": 9, "kijun": 26, "senkou": 52},
    space={"tenkan": IntParam(3, 30), "kijun": IntParam(10, 60), "senkou": IntParam(20, 120)},
    signal_function=_ichimoku,
    constraints=(LessThan("tenkan", "kijun"), LessThan("kijun", "senkou")),
)


def _supertrend_direction(bars: OHLCV, n: int, mult: float) -> np.ndarray:
    return ind.supertrend(bars.high, bars.low, bars.close, n, mult)[1]


def _supertrend(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _flip_signals(cache.get(_supertrend_direction, p["atr_window"], p["multiplier"]))


SUPERTREND = Strategy(
    name="supertrend",
    description=(
        "SuperTrend. Bands sit `multiplier` ATRs above and below the bar's midpoint and only "
        "tighten while price respects them; the trend turns up when the close breaks the "
        "upper band and down when it breaks the lower one. Long on an up-flip, exit (or "
        "short) on a down-flip."
    ),
    defaults={"atr_window": 10, "multiplier": 3.0},
    space={"atr_window": IntParam(5, 100), "multiplier": FloatParam(1.0, 6.0, 0.25)},
    signal_function=_supertrend,
)


def _sar_direction(bars: OHLCV, step: float, max_step: float) -> np.ndarray:
    return ind.parabolic_sar(bars.high, bars.low, step, max_step)[1]


def _parabolic_sar(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _flip_signals(cache.get(_sar_direction, p["step"], p["max_step"]))


PARABOLIC_SAR = Strategy(
    name="parabolic_sar",
    description=(
        "Wilder's Parabolic SAR stop-and-reverse. The SAR trails price with an acceleration "
        "factor growing by `step` at each new extreme up to `max_step`; when a bar's range "
        "crosses the SAR the trend flips. Long on a flip up, exit (or short) on a flip down."
    ),
    defaults={"step": 0.02, "max_step": 0.2},
    space={"step": FloatParam(0.005, 0.1), "max_step": FloatParam(0.05, 0.5)},
    signal_function=_parabolic_sar,
    constraints=(LessThan("step", "max_step"),),
)


def _kama_line(bars: OHLCV, n: int, fast: int, slow: int) -> np.ndarray:
    return ind.kama(bars.close, n, fast, slow)


def _kama(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    line = cache.get(_kama_line, p["window"], p["fast"], p["slow"])
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_above(close, line),
            long_exits=close < line,
            short_entries=ind.cross_below(close, line),
            short_exits=close > line,
        )


KAMA = Strategy(
    name="kama",
    description=(
        "Kaufman adaptive moving average. KAMA moves fast in efficient (trending) markets and "
        "slowly in noisy ones, its smoothing set by the efficiency ratio over `window` bars "
        "between EMA speeds `fast` and `slow`. Long when the close crosses above KAMA, exit "
        "when it closes below. Shorts mirror the rule."
    ),
    defaults={"window": 10, "fast": 2, "slow": 30},
    space={"window": IntParam(5, 50), "fast": IntParam(2, 10), "slow": IntParam(10, 60)},
    signal_function=_kama,
    constraints=(LessThan("fast", "slow"),),
)


def _trix_lines(bars: OHLCV, n: int, signal: int) -> tuple[np.ndarray, np.ndarray]:
    line = ind.trix(bars.close, n)
    return line, ind.ema(line, signal)


def _trix(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _cross_signals(*cache.get(_trix_lines, p["window"], p["signal"]))


TRIX = Strategy(
    name="trix",
    description=(
        "TRIX momentum. TRIX is the one-bar percent change of a triple EMA of the close; long "
        "when it crosses above its EMA signal line, exit (or short) when it crosses below."
    ),
    defaults={"window": 15, "signal": 9},
    space={"window": IntParam(3, 50), "signal": IntParam(2, 30)},
    signal_function=_trix,
)


def _dmi_lines(bars: OHLCV, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return ind.directional_movement(bars.high, bars.low, bars.close, n)


def _adx_dmi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    plus_di, minus_di, adx = cache.get(_dmi_lines, p["window"])
    with np.errstate(invalid="ignore"):
        trending = adx > p["adx_threshold"]
        return SignalSet(
            long_entries=ind.cross_above(plus_di, minus_di) & trending,
            long_exits=plus_di < minus_di,
            short_entries=ind.cross_below(plus_di, minus_di) & trending,
            short_exits=plus_di > minus_di,
        )


ADX_DMI = Strategy(
    name="adx_dmi",
    description=(
        "Wilder's directional movement. Long when +DI crosses above -DI while the ADX shows a "
        "trend (ADX above `adx_threshold`); exit when +DI falls below -DI. Shorts mirror the "
        "rule."
    ),
    defaults={"window": 14, "adx_threshold": 20.0},
    space={"window": IntParam(5, 50), "adx_threshold": FloatParam(5.0, 50.0)},
    signal_function=_adx_dmi,
)


def _heikin_ashi_candles(bars: OHLCV) -> tuple[np.ndarray, np.ndarray]:
    return ind.heikin_ashi(bars.open, bars.high, bars.low, bars.close)


def _heikin_ashi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    ha_open, ha_close = cache.get(_heikin_ashi_candles)
    bullish, bearish = ha_close > ha_open, ha_close < ha_open
    return SignalSet(
        long_entries=ind.streak_length(bullish) == p["streak"],
        long_exits=bearish,
        short_entries=ind.streak_length(bearish) == p["streak"],
        short_exits=bullish,
    )


HEIKIN_ASHI = Strategy(
    name="heikin_ashi",
    description=(
        "Heikin-Ashi trend. Long once `streak` consecutive Heikin-Ashi candles close above "
        "their open (smoothed candles filter noise); exit at the first bearish Heikin-Ashi "
        "candle. Shorts mirror the rule."
    ),
    defaults={"streak": 3},
    space={"streak": IntParam(1, 10)},
    signal_function=_heikin_ashi,
)

STRATEGIES = (
    EMA_CROSS,
    MACD,
    TRIPLE_MA,
    ICHIMOKU,
    SUPERTREND,
    PARABOLIC_SAR,
    KAMA,
    TRIX,
    ADX_DMI,
    HEIKIN_ASHI,
)
