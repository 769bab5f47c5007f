"""Indicators of the bars, keyed for ``IndicatorCache`` so a batch computes each one once.

Each function takes the bars first, then the indicator's own arguments; signal functions
call them through ``cache.get(function, *args)``.
"""

from __future__ import annotations

import numpy as np

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.strategy import OHLCV


def close_ema(bars: OHLCV, n: int) -> np.ndarray:
    return ind.ema(bars.close, n)


def close_sma(bars: OHLCV, n: int) -> np.ndarray:
    return ind.sma(bars.close, n)


def close_std(bars: OHLCV, n: int) -> np.ndarray:
    return ind.rolling_std(bars.close, n)


def close_rsi(bars: OHLCV, n: int) -> np.ndarray:
    return ind.rsi(bars.close, n)


def average_true_range(bars: OHLCV, n: int) -> np.ndarray:
    return ind.atr(bars.high, bars.low, bars.close, n)


def prior_highest_high(bars: OHLCV, n: int) -> np.ndarray:
    """Highest high of the ``n`` bars *before* the current one (a breakout level)."""
    return ind.shift(ind.rolling_max(bars.high, n))


def prior_lowest_low(bars: OHLCV, n: int) -> np.ndarray:
    """Lowest low of the ``n`` bars *before* the current one."""
    return ind.shift(ind.rolling_min(bars.low, n))


def highest_high(bars: OHLCV, n: int) -> np.ndarray:
    return ind.rolling_max(bars.high, n)


def lowest_low(bars: OHLCV, n: int) -> np.ndarray:
    return ind.rolling_min(bars.low, n)


def volume_sma(bars: OHLCV, n: int) -> np.ndarray:
    return ind.sma(bars.volume, n)
