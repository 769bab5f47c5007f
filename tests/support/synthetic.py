"""Synthetic hourly bars with a known answer: pure noise, or a planted trend-following edge."""

from __future__ import annotations

import numpy as np
import polars as pl

HOUR_MS = 3_600_000
START_MS = 1_600_000_000_000


def bars_from_closes(close: np.ndarray, seed: int) -> pl.DataFrame:
    """Canonical bars around a close series: open at the previous close, a small range."""
    rng = np.random.default_rng(seed + 1)
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.001, close.size)) * close
    timestamps = START_MS + np.arange(close.size, dtype=np.int64) * HOUR_MS
    return pl.DataFrame(
        {
            "timestamp": pl.Series(timestamps).cast(pl.Datetime("ms", "UTC")),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.ones(close.size),
        }
    )


def noise_bars(n_bars: int, seed: int) -> pl.DataFrame:
    """A driftless random walk: no rule can have an edge on it."""
    steps = np.random.default_rng(seed).normal(0.0, 0.01, n_bars)
    return bars_from_closes(100.0 * np.exp(np.cumsum(steps)), seed)


def planted_edge_bars(
    n_bars: int, seed: int, period: int = 120, amplitude: float = 0.06, sigma: float = 0.004
) -> pl.DataFrame:
    """Log prices swinging in a cycle of ``period`` bars under random-walk noise: trends a
    trend follower catches on any window, with a broad range of parameters."""
    steps = np.random.default_rng(seed).normal(0.0, sigma, n_bars)
    cycle = amplitude * np.sin(2 * np.pi * np.arange(n_bars) / period)
    return bars_from_closes(100.0 * np.exp(cycle + np.cumsum(steps)), seed)
