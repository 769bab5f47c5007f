"""Technical indicators over numpy arrays, computed from past and current bars only.

Rolling maxima, minima, sums and means take one pass over the bars and give every window a
value that does not depend on where the history starts (``windows``: exact extremes, correctly
rounded sums); standard deviations sum each window's squared deviations from that mean. The
recursive indicators are numba kernels written here because their definitions must match the
reference engine bar for bar:

* ``ema`` / ``wilder`` seed with the simple mean of the first ``n`` values and then recurse
  (the TA-Lib / Backtrader definition). vectorbt's ``ewm_mean`` follows pandas
  (``adjust=False`` seeds on the first value), which shifts early values and crossings.
* RSI and ATR smooth with Wilder's average (``alpha = 1/n``), not a simple mean as
  ``vbt.RSI`` does by default.
* SuperTrend, Parabolic SAR, KAMA and Heikin-Ashi are path-dependent recursions that no
  installed library provides.

Every array has the bars' length; values that are not defined yet (warm-up) are NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from maestro_pipeline.engine import windows

# ---------------------------------------------------------------- elementary helpers


def shift(values: np.ndarray, periods: int = 1) -> np.ndarray:
    """``values`` delayed by ``periods`` bars (NaN-filled head): the value known a bar ago."""
    out = np.full(len(values), np.nan)
    if periods < len(values):
        out[periods:] = values[: len(values) - periods]
    return out


def cross_above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """True on the bar where ``a`` closes above ``b`` after being at or below it."""
    b_now = np.broadcast_to(b, a.shape)
    with np.errstate(invalid="ignore"):
        now = a > b_now
        before = shift(a) <= shift(np.asarray(b_now, dtype=np.float64))
    return now & before


def cross_below(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """True on the bar where ``a`` closes below ``b`` after being at or above it."""
    b_now = np.broadcast_to(b, a.shape)
    with np.errstate(invalid="ignore"):
        now = a < b_now
        before = shift(a) >= shift(np.asarray(b_now, dtype=np.float64))
    return now & before


def became_true(condition: np.ndarray) -> np.ndarray:
    """True on the first bar of each run where ``condition`` holds."""
    previous = np.zeros_like(condition)
    previous[1:] = condition[:-1]
    return condition & ~previous


# ---------------------------------------------------------------- rolling windows


def sma(values: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over ``n`` bars (NaN while the window holds a NaN)."""
    return rolling_sum(values, n) / n


def rolling_std(values: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation over ``n`` bars (ddof=0, as Bollinger defines it)."""
    values = _as_floats(values, n)
    return windows.window_std(values, rolling_sum(values, n), n)


def rolling_max(values: np.ndarray, n: int) -> np.ndarray:
    """Highest value over the last ``n`` bars, the current one included."""
    return windows.window_max(_as_floats(values, n), n)


def rolling_min(values: np.ndarray, n: int) -> np.ndarray:
    """Lowest value over the last ``n`` bars, the current one included."""
    return windows.window_min(_as_floats(values, n), n)


def rolling_sum(values: np.ndarray, n: int) -> np.ndarray:
    """Sum over the last ``n`` bars, correctly rounded (``math.fsum`` of the window)."""
    values = _as_floats(values, n)
    if np.isinf(values).any():
        return windows.window_sums_afresh(values, n)
    return windows.window_sums(values, n)


def _as_floats(values: np.ndarray, n: int) -> np.ndarray:
    if n < 1:
        raise ValueError(f"a rolling window needs at least one bar, got {n}")
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------- recursive averages


@njit(cache=True)
def _seeded_ewm(values: np.ndarray, n: int, alpha: float) -> np.ndarray:
    out = np.full(values.shape[0], np.nan)
    start = 0
    while start < values.shape[0] and np.isnan(values[start]):
        start += 1
    seed_end = start + n
    if seed_end > values.shape[0]:
        return out
    total = 0.0
    for i in range(start, seed_end):
        total += values[i]
    level = total / n
    out[seed_end - 1] = level
    for i in range(seed_end, values.shape[0]):
        level = level + alpha * (values[i] - level)
        out[i] = level
    return out


def ema(values: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average, ``alpha = 2/(n+1)``, seeded with the mean of ``n`` values."""
    return _seeded_ewm(values, n, 2.0 / (n + 1.0))


def wilder(values: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothed average, ``alpha = 1/n``, seeded with the mean of ``n`` values."""
    return _seeded_ewm(values, n, 1.0 / n)


# ---------------------------------------------------------------- oscillators and ranges


def rsi(close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI in [0, 100]; 100 when the window holds no down move."""
    change = close - shift(close)
    up = wilder(np.where(change > 0, change, 0.0) + change * 0.0, n)
    down = wilder(np.where(change < 0, -change, 0.0) + change * 0.0, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + up / down)
    return np.where((down == 0) & ~np.isnan(down), 100.0, out)


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """True range; undefined on the first bar, which has no previous close."""
    previous_close = shift(close)
    return np.maximum(high, previous_close) - np.minimum(low, previous_close)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Average true range with Wilder smoothing."""
    return wilder(true_range(high, low, close), n)


def macd(close: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray]:
    """MACD line (EMA fast minus EMA slow) and its EMA signal line."""
    line = ema(close, fast) - ema(close, slow)
    return line, ema(line, signal)


def stochastic(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int, k_smooth: int, d_smooth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slow stochastic: %K = SMA(fast %K, k_smooth), %D = SMA(%K, d_smooth), in [0, 100]."""
    highest, lowest = rolling_max(high, n), rolling_min(low, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        fast_k = 100.0 * (close - lowest) / (highest - lowest)
    slow_k = sma(fast_k, k_smooth)
    return slow_k, sma(slow_k, d_smooth)


def williams_r(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Williams %R in [-100, 0]."""
    highest, lowest = rolling_max(high, n), rolling_min(low, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -100.0 * (highest - close) / (highest - lowest)


def money_flow_index(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int
) -> np.ndarray:
    """Money Flow Index: a volume-weighted RSI of the typical price, in [0, 100]."""
    typical = (high + low + close) / 3.0
    flow = typical * volume
    previous = shift(typical)
    positive = rolling_sum(np.where(typical > previous, flow, 0.0), n)
    negative = rolling_sum(np.where(typical < previous, flow, 0.0), n)
    positive[:n] = np.nan  # the first bar has no previous typical price
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + positive / negative)
    return np.where((negative == 0) & ~np.isnan(positive), 100.0, out)


def rolling_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int
) -> np.ndarray:
    """Volume-weighted average typical price over the last ``n`` bars."""
    typical = (high + low + close) / 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return rolling_sum(typical * volume, n) / rolling_sum(volume, n)


def directional_movement(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilder's +DI, -DI and ADX."""
    up = high - shift(high)
    down = shift(low) - low
    plus_dm = np.where((up > down) & (up > 0), up, 0.0) + up * 0.0
    minus_dm = np.where((down > up) & (down > 0), down, 0.0) + down * 0.0
    average_range = atr(high, low, close, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = 100.0 * wilder(plus_dm, n) / average_range
        minus_di = 100.0 * wilder(minus_dm, n) / average_range
        dx = 100.0 * np.abs(plus_di - minus_di) / (plus_di + minus_di)
    return plus_di, minus_di, wilder(dx, n)


def trix(close: np.ndarray, n: int) -> np.ndarray:
    """TRIX: one-bar percent change of a triple EMA."""
    triple = ema(ema(ema(close, n), n), n)
    return 100.0 * (triple / shift(triple) - 1.0)


def ichimoku(
    high: np.ndarray, low: np.ndarray, tenkan: int, kijun: int, senkou: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tenkan, kijun and the cloud spans *as plotted at each bar*.

    The spans are computed ``kijun`` bars earlier and displaced forward, so the cloud at bar
    ``t`` uses only bars up to ``t - kijun``: no lookahead.
    """
    tenkan_line = (rolling_max(high, tenkan) + rolling_min(low, tenkan)) / 2.0
    kijun_line = (rolling_max(high, kijun) + rolling_min(low, kijun)) / 2.0
    span_a = shift((tenkan_line + kijun_line) / 2.0, kijun)
    span_b = shift((rolling_max(high, senkou) + rolling_min(low, senkou)) / 2.0, kijun)
    return tenkan_line, kijun_line, span_a, span_b


# ---------------------------------------------------------------- path-dependent (numba)


@njit(cache=True)
def _supertrend(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, average_range: np.ndarray, mult: float
) -> tuple[np.ndarray, np.ndarray]:
    n = close.shape[0]
    line = np.full(n, np.nan)
    trend = np.zeros(n)
    upper = np.nan
    lower = np.nan
    for i in range(n):
        if np.isnan(average_range[i]):
            continue
        mid = (high[i] + low[i]) / 2.0
        basic_upper = mid + mult * average_range[i]
        basic_lower = mid - mult * average_range[i]
        if np.isnan(upper):
            upper, lower = basic_upper, basic_lower
            trend[i] = 1.0 if close[i] > mid else -1.0
        else:
            # Bands only tighten while price respects them (the classic final-band rule).
            upper = basic_upper if basic_upper < upper or close[i - 1] > upper else upper
            lower = basic_lower if basic_lower > lower or close[i - 1] < lower else lower
            if trend[i - 1] < 0 and close[i] > upper:
                trend[i] = 1.0
            elif trend[i - 1] > 0 and close[i] < lower:
                trend[i] = -1.0
            else:
                trend[i] = trend[i - 1]
        line[i] = lower if trend[i] > 0 else upper
    return line, trend


def supertrend(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int, mult: float
) -> tuple[np.ndarray, np.ndarray]:
    """SuperTrend line and direction (+1 up, -1 down, 0 during warm-up)."""
    return _supertrend(high, low, close, atr(high, low, close, n), mult)


@njit(cache=True)
def _parabolic_sar(
    high: np.ndarray, low: np.ndarray, step: float, max_step: float
) -> tuple[np.ndarray, np.ndarray]:
    n = high.shape[0]
    sar = np.full(n, np.nan)
    trend = np.zeros(n)
    if n < 2:
        return sar, trend
    rising = high[1] + low[1] >= high[0] + low[0]
    extreme = high[1] if rising else low[1]
    level = low[0] if rising else high[0]
    factor = step
    sar[1] = level
    trend[1] = 1.0 if rising else -1.0
    for i in range(2, n):
        level = level + factor * (extreme - level)
        if rising:
            level = min(level, low[i - 1], low[i - 2])
            if low[i] < level:
                rising, level, extreme, factor = False, extreme, low[i], step
            elif high[i] > extreme:
                extreme, factor = high[i], min(factor + step, max_step)
        else:
            level = max(level, high[i - 1], high[i - 2])
            if high[i] > level:
                rising, level, extreme, factor = True, extreme, high[i], step
            elif low[i] < extreme:
                extreme, factor = low[i], min(factor + step, max_step)
        sar[i] = level
        trend[i] = 1.0 if rising else -1.0
    return sar, trend


def parabolic_sar(
    high: np.ndarray, low: np.ndarray, step: float, max_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilder's Parabolic SAR and its direction (+1 rising, -1 falling)."""
    return _parabolic_sar(high, low, step, max_step)


@njit(cache=True)
def _kama(close: np.ndarray, n: int, fast: int, slow: int) -> np.ndarray:
    size = close.shape[0]
    out = np.full(size, np.nan)
    if size <= n:
        return out
    fast_sc = 2.0 / (fast + 1.0)
    slow_sc = 2.0 / (slow + 1.0)
    level = close[n]
    out[n] = level
    for i in range(n + 1, size):
        direction = abs(close[i] - close[i - n])
        volatility = 0.0
        for j in range(i - n + 1, i + 1):
            volatility += abs(close[j] - close[j - 1])
        efficiency = direction / volatility if volatility > 0 else 0.0
        constant = (efficiency * (fast_sc - slow_sc) + slow_sc) ** 2
        level = level + constant * (close[i] - level)
        out[i] = level
    return out


def kama(close: np.ndarray, n: int, fast: int, slow: int) -> np.ndarray:
    """Kaufman's adaptive moving average (efficiency ratio over ``n`` bars)."""
    return _kama(close, n, fast, slow)


@njit(cache=True)
def _heikin_ashi(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = close.shape[0]
    ha_open = np.empty(n)
    ha_close = (open_ + high + low + close) / 4.0
    if n == 0:
        return ha_open, ha_close
    ha_open[0] = (open_[0] + close[0]) / 2.0
    for i in range(1, n):
        ha_open[i] = (ha_open[i - 1] + ha_close[i - 1]) / 2.0
    return ha_open, ha_close


def heikin_ashi(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Heikin-Ashi open and close."""
    return _heikin_ashi(open_, high, low, close)


@njit(cache=True)
def streak_length(condition: np.ndarray) -> np.ndarray:
    """How many consecutive bars, ending at each bar, ``condition`` has held."""
    out = np.zeros(condition.shape[0], dtype=np.int64)
    run = 0
    for i in range(condition.shape[0]):
        run = run + 1 if condition[i] else 0
        out[i] = run
    return out
