"""Rolling-window kernels (numba) in one pass over the bars, whatever the window's length.

A window's value must not depend on where the history starts: the bias checks compare
signals computed from different starts, and a flat market's ties (SMA(4) == SMA(5)) must break
the same way on every history. A running sum ``total += new - old`` carries rounding from every
earlier bar, so it fails that; summing each window afresh passes but costs ``n`` additions per
bar (a third of a study's CPU on 200-bar channels).

* Maxima and minima keep a monotonic queue of candidate indices: each bar enters and leaves
  it once, and the result is exact.
* Sums keep the window's *exact* sum as a Shewchuk expansion (non-overlapping partials, the
  algorithm behind ``math.fsum``), adding the entering bar and subtracting the leaving one with
  error-free transformations, and round it once per bar the way ``math.fsum`` does: every
  window's sum is the correctly rounded sum of its values, bit for bit ``math.fsum(window)``,
  which is also how Backtrader's ``SMA`` and ``SumN`` sum.

NaN follows vectorbt's ``min_periods = window``: a window holding a NaN (or not yet full) is
NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Non-overlapping partials of a float64 sum: at most one per bit of the exponent range.
_MAX_PARTIALS = 2_100


@njit(cache=True)
def _add_exact(partials: np.ndarray, count: int, x: float) -> int:
    """Add ``x`` to the expansion ``partials[:count]``; returns the new count."""
    kept = 0
    for j in range(count):
        y = partials[j]
        # Knuth's two-sum, branch-free: high + low == x + y exactly.
        high = x + y
        y_part = high - x
        low = (x - (high - y_part)) + (y - y_part)
        if low != 0.0:
            partials[kept] = low
            kept += 1
        x = high
    partials[kept] = x
    return kept + 1


@njit(cache=True)
def _rounded(partials: np.ndarray, count: int) -> float:
    """The expansion's exact value rounded to the nearest float64 (ties to even)."""
    if count == 0:
        return 0.0
    n = count - 1
    high = partials[n]
    low = 0.0
    while n > 0:
        x = high
        n -= 1
        y = partials[n]
        high = x + y
        low = y - (high - x)
        if low != 0.0:
            break
    # The rest below `low` decides a tie in the rounding of high + low.
    if n > 0 and ((low < 0.0 and partials[n - 1] < 0.0) or (low > 0.0 and partials[n - 1] > 0.0)):
        y = low * 2.0
        x = high + y
        if y == x - high:
            high = x
    return high


@njit(cache=True)
def window_sums(values: np.ndarray, n: int) -> np.ndarray:
    """``math.fsum`` of every ``n``-bar window (float64 ``values`` with no infinities)."""
    size = values.shape[0]
    out = np.full(size, np.nan)
    partials = np.empty(_MAX_PARTIALS)
    count = 0
    nans = 0
    for i in range(size):
        entering = values[i]
        if np.isnan(entering):
            nans += 1
        else:
            count = _add_exact(partials, count, entering)
        if i >= n:
            leaving = values[i - n]
            if np.isnan(leaving):
                nans -= 1
            else:
                count = _add_exact(partials, count, -leaving)
        if i >= n - 1 and nans == 0:
            out[i] = _rounded(partials, count)
    return out


@njit(cache=True)
def window_sums_afresh(values: np.ndarray, n: int) -> np.ndarray:
    """Each window summed left to right: for values with infinities, which have no exact sum."""
    size = values.shape[0]
    out = np.full(size, np.nan)
    for i in range(n - 1, size):
        total = 0.0
        for j in range(i - n + 1, i + 1):
            total += values[j]
        out[i] = total
    return out


@njit(cache=True)
def window_std(values: np.ndarray, sums: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of every ``n``-bar window, given the windows' sums.

    The mean comes from the window's sum; the squared deviations from it are summed per
    window: a one-pass variance from running sums of x and x squared loses digits to
    cancellation (the mean's square dwarfs the variance of prices), and Bollinger bands'
    crossings sit on those digits.
    """
    size = values.shape[0]
    out = np.full(size, np.nan)
    for i in range(n - 1, size):
        mean = sums[i] / n
        squares = 0.0
        for j in range(i - n + 1, i + 1):
            squares += (values[j] - mean) ** 2
        out[i] = np.sqrt(squares / n)
    return out


@njit(cache=True)
def _window_extreme(values: np.ndarray, n: int, sign: float) -> np.ndarray:
    # Maximum of sign * values: the queue holds indices whose values decrease from its head,
    # so the head is the window's extreme; a bar leaves the tail once a larger one arrives.
    size = values.shape[0]
    out = np.full(size, np.nan)
    queue = np.empty(size, dtype=np.int64)
    head = 0
    tail = 0
    last_nan = -1
    for i in range(size):
        value = values[i]
        if np.isnan(value):
            last_nan = i
        else:
            while tail > head and sign * values[queue[tail - 1]] <= sign * value:
                tail -= 1
            queue[tail] = i
            tail += 1
        while tail > head and queue[head] <= i - n:
            head += 1
        if i >= n - 1 and last_nan <= i - n:
            out[i] = values[queue[head]]
    return out


def window_max(values: np.ndarray, n: int) -> np.ndarray:
    """Highest value of every ``n``-bar window."""
    return _window_extreme(np.asarray(values, dtype=np.float64), n, 1.0)


def window_min(values: np.ndarray, n: int) -> np.ndarray:
    """Lowest value of every ``n``-bar window."""
    return _window_extreme(np.asarray(values, dtype=np.float64), n, -1.0)
