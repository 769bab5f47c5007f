"""Walk-forward study speed: one year of real hourly BTC/USD, 10 folds x 100 trials; prints JSON.

Run: ``.venv/bin/python benchmarks/bench_walk_forward.py [--runs 3] [--no-sqlite]``.

One untimed warm-up study compiles numba first (reported as ``cold_seconds``). Then the same
study runs ``--runs`` times with each storage: in memory, a fresh Optuna journal file per run,
and (once, for comparison) a fresh SQLite file. ``wall_seconds`` is ``run_walk_forward`` from
call to return, data loading excluded; the split is the engine's own ``timings``: sampling
(Optuna ask/suggest, tell, storage reads and writes), backtesting (signals + vectorbt) and
other (statistics such as the PBO combinations, tables, bookkeeping). ``validation_seconds``
is the validation every study gets after its searches (bootstrap confidence, trade-order
Monte Carlo, parameter plateaus, the engine cross-check on v1, verdict) and
``validation_overhead`` its share of the rest of the study's wall time (goal: below
``VALIDATION_GOAL``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import polars as pl

import maestro_pipeline
from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.walk_forward import WalkForwardConfig, run_walk_forward
from maestro_pipeline.optimization.runs import run_study
from maestro_pipeline.optimization.storages import optuna_storage

SAMPLE = (
    Path(maestro_pipeline.__file__).parent / "sources" / "sample_data"
    / "bitfinex_btc_usd_30m.parquet"
)  # fmt: skip
STRATEGY = "ema_cross"
BARS = 8_760
CONFIG = WalkForwardConfig(n_splits=10, n_trials=100)
GOAL_SECONDS = 15.0
VALIDATION_GOAL = 0.20


def one_year_of_hours() -> pl.DataFrame:
    return resample_bars(pl.read_parquet(SAMPLE), "1h").tail(BARS)


def timed_study(bars: pl.DataFrame, storage: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_study(bars, get_strategy(STRATEGY), CONFIG, storage=storage)
    wall = time.perf_counter() - started
    timings = result.summary["timings"]
    return {
        "wall_seconds": wall,
        "sampling_seconds": timings["sampling"],
        "optuna_ask_seconds": timings["optuna_ask"],
        "optuna_storage_seconds": timings["optuna_storage"],
        "backtesting_seconds": timings["backtesting"],
        "other_seconds": timings["other"],
        # Bootstrap, trade Monte Carlo, plateaus, the engine cross-check on Backtrader and the
        # verdict, and their share of the study without them (the goal: under 20 %).
        "validation_seconds": timings["validation"],
        "cross_check_seconds": timings["cross_check"],
        "cross_check_max_deviation": result.summary["cross_check"]["max_deviation"],
        "validation_overhead": timings["validation"] / (wall - timings["validation"]),
        "verdict": result.summary["verdict"],
        "trials_evaluated": result.summary["n_evaluated_here"],
        "oos_sharpe_ratio": result.summary["sharpe_ratio"],
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, plus every run's wall time."""
    ordered = sorted(runs, key=lambda r: r["wall_seconds"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["wall_seconds_runs"] = [round(r["wall_seconds"], 3) for r in runs]
    middle["wall_seconds_median"] = statistics.median(r["wall_seconds"] for r in runs)
    middle["ms_per_trial"] = 1000 * middle["wall_seconds"] / (CONFIG.n_splits * CONFIG.n_trials)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in middle.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    bars = one_year_of_hours()
    started = time.perf_counter()
    run_walk_forward(bars, get_strategy(STRATEGY), CONFIG)
    cold = time.perf_counter() - started

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["memory"] = median_run([timed_study(bars, None) for _ in range(args.runs)])
        journal_runs = [
            timed_study(bars, optuna_storage(f"{tmp}/run{i}.journal")) for i in range(args.runs)
        ]
        results["journal"] = median_run(journal_runs)
        if not args.no_sqlite:
            results["sqlite"] = median_run([timed_study(bars, f"sqlite:///{tmp}/run.db")])

    report = {
        "benchmark": "walk_forward",
        "strategy": STRATEGY,
        "bars": bars.height,
        "timeframe": "1h",
        "n_splits": CONFIG.n_splits,
        "n_trials_per_fold": CONFIG.n_trials,
        "batch_size": CONFIG.batch_size,
        "pruning_steps": CONFIG.pruning_steps,
        "cold_seconds": round(cold, 3),
        "goal_seconds": GOAL_SECONDS,
        "meets_goal": results["memory"]["wall_seconds_median"] < GOAL_SECONDS
        and results["journal"]["wall_seconds_median"] < GOAL_SECONDS,
        "validation_goal": VALIDATION_GOAL,
        "meets_validation_goal": all(
            r["validation_overhead"] < VALIDATION_GOAL for r in results.values()
        ),
        **results,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "optuna": optuna.__version__,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
