"""Backtest speed on one year (8,760 bars) of real hourly BTC/USD; prints JSON figures.

Run: ``.venv/bin/python benchmarks/bench_backtest.py``. Figures are medians of warm runs
(numba compiled, caches filled). Backtrader runs the same rule, data, costs and fill
convention through the parity reference in ``tests/parity``, timed in the same process.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import vectorbt as vbt

import maestro_pipeline
from maestro_pipeline.engine.backtest import (
    BacktestSettings,
    evaluate_signals,
    run_backtest,
    simulate_orders,
    simulate_signals,
)
from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.strategy import OHLCV, strategy_signals

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "parity"))
from backtrader_reference import run_reference  # noqa: E402

SAMPLE = (
    Path(maestro_pipeline.__file__).parent / "sources" / "sample_data"
    / "bitfinex_btc_usd_30m.parquet"
)  # fmt: skip
BARS = 8_760
SETTINGS = BacktestSettings(fees=0.001, slippage=0.0005)


def median_ms(action: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1_000


def main() -> None:
    bars = resample_bars(pl.read_parquet(SAMPLE), "1h").head(BARS)
    ohlcv = OHLCV.from_bars(bars)
    strategy = get_strategy("ema_cross")
    params = strategy.validate({})
    grid = [{"fast": fast, "slow": slow} for fast in range(5, 55, 5) for slow in range(60, 160, 10)]
    one = strategy_signals(ohlcv, strategy, [params])
    many = strategy_signals(ohlcv, strategy, grid)

    single_full = median_ms(lambda: run_backtest(ohlcv, strategy, params, SETTINGS), 50)
    single_eval = median_ms(lambda: evaluate_signals(ohlcv, one, SETTINGS, periods=8760), 50)
    batch_total = median_ms(
        lambda: evaluate_signals(
            ohlcv, strategy_signals(ohlcv, strategy, grid), SETTINGS, periods=8760
        ),
        15,
    )
    batch_signals = median_ms(lambda: strategy_signals(ohlcv, strategy, grid), 15)
    batch_simulation = median_ms(lambda: simulate_orders(ohlcv, many, SETTINGS), 15)
    batch_portfolio = median_ms(lambda: simulate_signals(ohlcv, many, SETTINGS), 5)
    backtrader = median_ms(
        lambda: run_reference(bars, "ema_cross", params, SETTINGS.fees, SETTINGS.slippage, 1e4),
        3,
        warmup=1,
    )
    figures = {
        "bars": len(ohlcv),
        "strategy": strategy.name,
        "single_backtest_ms": round(single_full, 3),
        "single_evaluate_signals_ms": round(single_eval, 3),
        "batch_100_params_ms": round(batch_total, 3),
        "batch_100_signals_ms": round(batch_signals, 3),
        "batch_100_simulation_ms": round(batch_simulation, 3),
        "batch_100_vectorbt_portfolio_ms": round(batch_portfolio, 3),
        "backtrader_single_ms": round(backtrader, 1),
        "backtrader_over_single_backtest": round(backtrader / single_full, 1),
        "backtrader_over_single_evaluate": round(backtrader / single_eval, 1),
        "backtrader_over_batch_per_param_set": round(backtrader / (batch_total / len(grid)), 1),
        "vectorbt": vbt.__version__,
        "python": platform.python_version(),
        # Shared 2-core machines: the load during the run puts the figures in context.
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
