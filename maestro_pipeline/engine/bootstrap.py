"""Bootstrap confidence of an out-of-sample record, and a trade-order Monte Carlo.

* ``bootstrap_returns``: a stationary block bootstrap (Politis & Romano 1994) of per-bar
  returns with ``arch.bootstrap.StationaryBootstrap``. Blocks of random length (geometric,
  mean ``block_length``) keep the returns' serial dependence (volatility clusters, positions
  held over many bars); the mean block length is Politis & White's (2004, with Patton, Politis
  & White's 2009 correction) automatic choice, ``arch.bootstrap.optimal_block_length``. Each
  resample is scored with the formulas of ``metrics.return_metrics`` (Sharpe annualized with
  ``periods``, CAGR, max drawdown from the starting cash), giving percentile intervals, the
  probability of a loss over the whole span (the share of resamples whose total return is
  below 0) and a fan: quantiles of the resampled equity (starting at 1) at evenly spaced
  bars.
* ``trade_order_monte_carlo``: the closed trades' returns in random orders. The product of
  the returns, so the final equity, does not depend on the order; the drawdown does. With
  every trade sized on the whole equity (the backtests' default), compounding the trades'
  returns is the equity from exit to exit, so the shuffles show how deep the drawdown could
  have been had the same trades come in another order.

Both are seeded: equal inputs and seed give equal results.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

N_RESAMPLES = 1000
N_SHUFFLES = 1000
CONFIDENCE = 0.95
FAN_POINTS = 50
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Rows of resamples scored at once: bounds the memory of (rows x bars) matrices.
_CHUNK = 200


def block_length(returns: np.ndarray) -> float:
    """Mean block length of the stationary bootstrap (Politis-White), within [1, n / 4]."""
    from arch.bootstrap import optimal_block_length

    values = np.asarray(returns, dtype=float)
    n = values.size
    try:
        # A curve that never moves (no trade) has no autocorrelation to measure.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            length = float(optimal_block_length(values)["stationary"].iloc[0])
    except (ValueError, ZeroDivisionError, FloatingPointError):
        length = math.nan
    if not math.isfinite(length):
        length = n ** (1 / 3)  # The textbook rate when the automatic choice is undefined.
    return float(min(max(length, 1.0), max(1.0, n / 4)))


def _scores(sample: np.ndarray, periods: float) -> dict[str, np.ndarray]:
    """Sharpe, total return, CAGR and max drawdown of each row of per-bar returns."""
    n = sample.shape[1]
    mean = sample.mean(axis=1)
    std = sample.std(axis=1, ddof=1)
    sharpe = np.zeros_like(mean)
    np.divide(mean, std, out=sharpe, where=std > 0)
    equity = np.cumprod(1.0 + sample, axis=1)
    total = equity[:, -1] - 1.0
    with np.errstate(over="ignore"):
        cagr = np.maximum(1.0 + total, 0.0) ** (periods / n) - 1.0
    peaks = np.maximum(np.maximum.accumulate(equity, axis=1), 1.0)
    drawdown = np.minimum((equity / peaks).min(axis=1) - 1.0, 0.0)
    return {
        "sharpe_ratio": sharpe * math.sqrt(periods),
        "total_return": total,
        "cagr": cagr,
        "max_drawdown": drawdown,
        "equity": equity,
    }


def bootstrap_returns(
    returns: np.ndarray,
    periods: float,
    *,
    seed: int,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    mean_block: float | None = None,
) -> dict[str, Any]:
    """Stationary-bootstrap intervals of an OOS return series (see the module docstring).

    Returns a JSON-friendly dict: ``method``, ``block_length``, ``n_resamples``,
    ``confidence``, ``seed``, ``n_obs``; for each of ``sharpe_ratio``, ``cagr``,
    ``max_drawdown`` and ``total_return`` an ``{"estimate", "low", "high", "std"}`` (the
    estimate is the metric of the observed series, the bounds the resamples' percentiles);
    ``probability_of_loss``; ``fan`` (``index``: bar offsets, ``quantiles``: equity per
    quantile at those bars). Fewer than 3 finite returns give ``{"error": ...}``.
    """
    from arch.bootstrap import StationaryBootstrap

    values = np.asarray(returns, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 3:
        return {"method": "stationary", "error": f"{values.size} returns are too few to resample"}
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    block = block_length(values) if mean_block is None else float(mean_block)
    sampler = StationaryBootstrap(block, values, seed=np.random.default_rng(seed))
    n = values.size
    fan_at = np.unique(np.linspace(0, n - 1, min(FAN_POINTS, n)).round().astype(np.int64))
    names = ("sharpe_ratio", "total_return", "cagr", "max_drawdown")
    collected: dict[str, list[np.ndarray]] = {name: [] for name in names}
    fan_rows = []
    done = 0
    while done < n_resamples:
        rows = min(_CHUNK, n_resamples - done)
        index = np.stack([sampler.update_indices() for _ in range(rows)])
        scores = _scores(values[index], periods)
        for name in names:
            collected[name].append(scores[name])
        fan_rows.append(scores["equity"][:, fan_at])
        done += rows
    resampled = {name: np.concatenate(parts) for name, parts in collected.items()}
    observed = _scores(values[None, :], periods)
    tail = (1.0 - confidence) / 2.0
    intervals = {
        name: {
            "estimate": float(observed[name][0]),
            "low": float(np.quantile(resampled[name], tail)),
            "high": float(np.quantile(resampled[name], 1.0 - tail)),
            "std": float(resampled[name].std(ddof=1)),
        }
        for name in names
    }
    fan = np.concatenate(fan_rows)
    return {
        "method": "stationary",
        "block_length": block,
        "n_resamples": n_resamples,
        "confidence": confidence,
        "seed": seed,
        "n_obs": n,
        **intervals,
        "probability_of_loss": float((resampled["total_return"] < 0).mean()),
        "fan": {
            "index": fan_at.tolist(),
            "quantiles": {f"{q:g}": np.quantile(fan, q, axis=0).tolist() for q in FAN_QUANTILES},
        },
    }


def _closed_trade_drawdowns(rows: np.ndarray) -> np.ndarray:
    """Max drawdown of each row of trade returns compounded from 1 (exit-to-exit equity)."""
    equity = np.cumprod(1.0 + rows, axis=1)
    peaks = np.maximum(np.maximum.accumulate(equity, axis=1), 1.0)
    return np.minimum((equity / peaks).min(axis=1) - 1.0, 0.0)


def trade_order_monte_carlo(
    trade_returns: np.ndarray, *, seed: int, n_shuffles: int = N_SHUFFLES
) -> dict[str, Any]:
    """Max drawdown of the closed trades in ``n_shuffles`` random orders (module docstring).

    Returns ``n_trades``, ``n_shuffles``, ``seed``, ``observed_max_drawdown`` (the trades in
    their real order), ``max_drawdown`` (``mean``, ``q05``, ``median``, ``q95`` and
    ``worst`` of the shuffles; q05 is the deep end, drawdowns being negative) and
    ``probability_worse`` (the share of orders with a deeper drawdown than the real one).
    Fewer than 2 trades give ``{"error": ...}``.
    """
    values = np.asarray(trade_returns, dtype=float)
    values = values[np.isfinite(values)]
    base = {"n_trades": int(values.size), "n_shuffles": n_shuffles, "seed": seed}
    if values.size < 2:
        return {**base, "error": f"{values.size} closed trades are too few to reorder"}
    rng = np.random.default_rng(seed)
    observed = float(_closed_trade_drawdowns(values[None, :])[0])
    drawdowns = []
    done = 0
    while done < n_shuffles:
        rows = min(_CHUNK, n_shuffles - done)
        drawdowns.append(_closed_trade_drawdowns(rng.permuted(np.tile(values, (rows, 1)), axis=1)))
        done += rows
    shuffled = np.concatenate(drawdowns)
    return {
        **base,
        "observed_max_drawdown": observed,
        "total_return": float(np.prod(1.0 + values) - 1.0),
        "max_drawdown": {
            "mean": float(shuffled.mean()),
            "q05": float(np.quantile(shuffled, 0.05)),
            "median": float(np.quantile(shuffled, 0.5)),
            "q95": float(np.quantile(shuffled, 0.95)),
            "worst": float(shuffled.min()),
        },
        # Orders only change the drawdown by rounding when every trade lost (or won):
        # deeper means deeper by more than that.
        "probability_worse": float((shuffled < observed - 1e-9).mean()),
    }
