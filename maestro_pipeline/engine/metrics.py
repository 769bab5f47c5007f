"""Performance metrics of equity curves, vectorized over many columns at once.

Annualization uses a 365-day crypto year scaled to the bar length (1h bars: 8,760 periods a
year). The return series of a curve starts with its first bar measured against the initial
cash, so ``prod(1 + r) - 1`` is the total return. On that series the formulas are those of
QuantStats (``rf = 0``, ``periods = periods_per_year``): Sharpe ``mean / std(ddof=1)``,
Sortino ``mean / sqrt(sum(r[r<0]**2) / n)``, CAGR ``(1 + total) ** (periods / n) - 1``,
max drawdown against the running peak including the starting cash, Calmar
``CAGR / |max drawdown|``. Where QuantStats would divide by zero (a flat curve), the ratio is
0 here so that optimizers always receive a finite score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

DAYS_PER_YEAR = 365
MS_PER_DAY = 86_400_000

RETURN_METRICS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
)
TRADE_METRICS = (
    "trade_count",
    "win_rate",
    "profit_factor",
    "average_trade_return",
    "exposure",
)
METRIC_NAMES = RETURN_METRICS + TRADE_METRICS
# A study's headline out-of-sample figures: the warehouse summary row, the leaderboard and the
# study listings carry these (as ``oos_<name>``); the stitched summary holds every metric.
HEADLINE_METRICS = (
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "total_return",
    "cagr",
    "max_drawdown",
    "trade_count",
    "win_rate",
)
# Per walk-forward fold, for the in-sample and the out-of-sample window (``is_``/``oos_``).
FOLD_METRICS = (*HEADLINE_METRICS, "exposure")
# A study's selection-bias statistics (see ``walk_forward.statistics``), reported beside them.
STUDY_STATISTICS = ("deflated_sharpe_ratio", "pbo", "wf_efficiency")
# How people read each metric: a label and a format ("ratio", "percent" or "count").
METRIC_DISPLAY: dict[str, tuple[str, str]] = {
    "total_return": ("Return", "percent"),
    "cagr": ("CAGR", "percent"),
    "volatility": ("Volatility", "percent"),
    "sharpe_ratio": ("Sharpe", "ratio"),
    "sortino_ratio": ("Sortino", "ratio"),
    "max_drawdown": ("Max drawdown", "percent"),
    "calmar_ratio": ("Calmar", "ratio"),
    "trade_count": ("Trades", "count"),
    "win_rate": ("Win rate", "percent"),
    "profit_factor": ("Profit factor", "ratio"),
    "average_trade_return": ("Avg trade", "percent"),
    "exposure": ("Exposure", "percent"),
    "deflated_sharpe_ratio": ("DSR", "ratio"),
    "pbo": ("PBO", "ratio"),
    "wf_efficiency": ("WFE", "ratio"),
}


def periods_per_year(bar_ms: int) -> float:
    """Bars in a 365-day year for bars of ``bar_ms`` milliseconds (1h -> 8760)."""
    if bar_ms <= 0:
        raise ValueError(f"bar length must be positive, got {bar_ms} ms")
    return DAYS_PER_YEAR * MS_PER_DAY / bar_ms


def floor_at_ruin(values: np.ndarray) -> np.ndarray:
    """Equity with ruin made final: from the first bar at or below zero, the curve stays at 0.

    A fully levered short can lose more than the account; a broker would have liquidated
    it, so the curve ends there (a -100 % return) instead of going negative.
    """
    values = np.asarray(values, dtype=np.float64)
    at_or_below_zero = values <= 0.0
    if not at_or_below_zero.any():  # the usual case: nothing to floor, no copy
        return values
    return np.where(np.maximum.accumulate(at_or_below_zero, axis=0), 0.0, values)


def returns_from_values(values: np.ndarray, init_cash: float) -> np.ndarray:
    """Per-bar simple returns of equity ``values`` (n_bars x n_cols), first bar vs the cash.

    Expects a curve passed through ``floor_at_ruin``: after ruin the returns are 0.
    """
    values = np.asarray(values, dtype=np.float64)
    returns = np.empty_like(values)
    returns[0] = values[0] / init_cash - 1.0
    previous = values[:-1]
    if (previous > 0.0).all():
        np.divide(values[1:], previous, out=returns[1:])
        returns[1:] -= 1.0
        return returns
    later = np.zeros_like(previous)
    np.divide(values[1:], previous, out=later, where=previous > 0.0)
    returns[1:] = np.where(previous > 0.0, later - 1.0, 0.0)
    return returns


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def return_metrics(values: np.ndarray, init_cash: float, periods: float) -> dict[str, np.ndarray]:
    """Return-based metrics of each column of ``values`` (equity per bar), as 1-D arrays."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    values = floor_at_ruin(values)
    n = values.shape[0]
    # One contiguous row per column: each column's sums then run in the same order whatever
    # the number of columns simulated beside it (numpy sums a contiguous axis pairwise, a
    # strided one bar by bar), so a parameter set scores bit for bit the same in any batch.
    returns = np.ascontiguousarray(returns_from_values(values, init_cash).T)
    total_return = values[-1] / init_cash - 1.0
    mean = returns.mean(axis=1)
    std = returns.std(axis=1, ddof=1) if n > 1 else np.zeros(values.shape[1])
    downside = np.sqrt((np.minimum(returns, 0.0) ** 2).sum(axis=1) / n)
    annual = np.sqrt(periods)
    growth = np.maximum(1.0 + total_return, 0.0)
    with np.errstate(over="ignore"):  # a few bars of big gains annualize to inf, as in QS
        cagr = growth ** (periods / n) - 1.0
    # The starting cash is the first peak (QuantStats' phantom baseline bar).
    peaks = np.maximum(np.maximum.accumulate(values, axis=0), init_cash)
    max_drawdown = np.minimum((values / peaks).min(axis=0) - 1.0, 0.0)
    return {
        "total_return": total_return,
        "cagr": cagr,
        "volatility": std * annual,
        "sharpe_ratio": _safe_ratio(mean, std) * annual,
        "sortino_ratio": _safe_ratio(mean, downside) * annual,
        "max_drawdown": max_drawdown,
        "calmar_ratio": _safe_ratio(cagr, np.abs(max_drawdown)),
    }


def trade_metrics(
    columns: np.ndarray,
    entry_idx: np.ndarray,
    exit_idx: np.ndarray,
    is_open: np.ndarray,
    pnl: np.ndarray,
    trade_return: np.ndarray,
    n_cols: int,
    n_bars: int,
) -> dict[str, np.ndarray]:
    """Trade-based metrics per column from flat trade records (one row per round trip).

    ``trade_count`` counts every position opened, the one still open at the end included;
    win rate, profit factor and average return use closed trades only. ``exposure`` is the
    fraction of bars closed while holding a position.
    """
    closed = ~is_open
    count = np.bincount(columns, minlength=n_cols).astype(np.float64)
    closed_count = np.bincount(columns[closed], minlength=n_cols).astype(np.float64)
    wins = np.bincount(columns[closed & (pnl > 0)], minlength=n_cols).astype(np.float64)
    gross_profit = np.bincount(
        columns[closed], weights=np.where(pnl[closed] > 0, pnl[closed], 0.0), minlength=n_cols
    )
    gross_loss = np.bincount(
        columns[closed], weights=np.where(pnl[closed] < 0, -pnl[closed], 0.0), minlength=n_cols
    )
    return_sum = np.bincount(columns[closed], weights=trade_return[closed], minlength=n_cols)
    held_until = np.where(is_open, n_bars, exit_idx)
    bars_held = np.bincount(columns, weights=held_until - entry_idx, minlength=n_cols)
    profit_factor = _safe_ratio(gross_profit, gross_loss)
    # All winners and no loser: an unbounded factor, reported as inf as QuantStats does.
    profit_factor[(gross_loss == 0) & (gross_profit > 0)] = np.inf
    return {
        "trade_count": count,
        "win_rate": _safe_ratio(wins, closed_count),
        "profit_factor": profit_factor,
        "average_trade_return": _safe_ratio(return_sum, closed_count),
        "exposure": bars_held / n_bars,
    }


def finite_or_none(value: Any) -> float | None:
    """A float, or None where the value is missing, not a number, or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """Recursively: non-finite floats become None (JSON has no NaN), numpy scalars plain Python."""
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return finite_or_none(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
