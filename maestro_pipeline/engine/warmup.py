"""Run every compiled kernel once on synthetic bars, so that numba caches them on disk.

numba compiles a kernel the first time it is called with given argument types and, for
``cache=True`` kernels, keeps the machine code beside its module. Installing Maestro calls
``warm_up()`` once (``maestro warm-up``): the first real backtest then starts in milliseconds
instead of compiling for seconds to minutes.
"""

from __future__ import annotations

import time

import numpy as np

from maestro_pipeline.engine.backtest.run import run_backtest
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.registry import all_strategies
from maestro_pipeline.engine.strategy import OHLCV

# Every simulation variant the engine compiles: one side, both sides, with stops.
SETTINGS = (
    BacktestSettings(),
    BacktestSettings(direction="both"),
    BacktestSettings(stop_loss=0.05, take_profit=0.1),
)


def synthetic_bars(n_bars: int = 600, seed: int = 0) -> OHLCV:
    """A random walk of hourly bars with consistent OHLC and volume."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.004, n_bars)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.uniform(1.0, 10.0, n_bars)
    timestamp = np.arange(n_bars, dtype=np.int64) * 3_600_000 + 1_500_000_000_000
    return OHLCV(timestamp, open_, high, low, close, volume)


def warm_up() -> dict[str, float]:
    """Backtest every strategy with every simulation variant once; seconds per strategy."""
    bars = synthetic_bars()
    seconds: dict[str, float] = {}
    for strategy in all_strategies():
        started = time.perf_counter()
        for settings in SETTINGS:
            run_backtest(bars, strategy, None, settings)
        seconds[strategy.name] = time.perf_counter() - started
    return seconds
