"""Optuna on PostgreSQL: trials per second of one walk-forward study with 1, 2 and 4 workers.

Run: ``.venv/bin/python benchmarks/bench_distributed.py [--runs 3] [--workers 1 2 4]``.

Starts its own PostgreSQL (fsync on: a real server's durability) on 127.0.0.1. Each run is
``maestro walk-forward --storage postgresql+psycopg://... --workers K`` on one year of hourly
BTC/USD (ema_cross, 2 folds x 200 trials, batches of 25) on an emptied database. Throughput
is taken from the trials themselves: counted trials / (last completion - first start) per
fold, summed over folds, so process start-up (imports) is left out. ``in_memory`` is the same
study in one process without any storage, for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.engine.walk_forward.batched import INFEASIBLE_ATTR
from maestro_pipeline.optimization.coordination import WORKER_ATTR
from maestro_pipeline.sources.sample import SAMPLE_FILES
from tests.support.servers import postgres_server

REPO_ROOT = Path(__file__).resolve().parents[1]
SPLITS, TRIALS, BATCH = 2, 200, 25


def study_args(bars: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "maestro_pipeline.cli", "walk-forward", "--strategy",
            "ema_cross", "--data", str(bars), "--timeframe", "1h", "--splits", str(SPLITS),
            "--trials", str(TRIALS), "--batch-size", str(BATCH), "--json", *extra]  # fmt: skip


def run_study(args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, check=True)
    return json.loads(done.stdout)


def throughput(storage: str) -> dict[str, Any]:
    seconds, trials, workers = 0.0, 0, Counter()
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        counted = [
            t for t in study.get_trials(deepcopy=False)
            if t.state.name in ("COMPLETE", "PRUNED")
            or (t.state.name == "FAIL" and INFEASIBLE_ATTR in t.user_attrs)
        ]  # fmt: skip
        start = min(t.datetime_start for t in counted)
        end = max(t.datetime_complete for t in counted)
        seconds += (end - start).total_seconds()
        trials += len(counted)
        workers.update(t.user_attrs.get(WORKER_ATTR, "?") for t in counted)
    return {
        "trials": trials,
        "optimizing_seconds": round(seconds, 3),
        "trials_per_second": round(trials / seconds, 2),
        "trials_per_worker": sorted(workers.values(), reverse=True),
    }


def empty(storage: str) -> None:
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        optuna.delete_study(study_name=summary.study_name, storage=storage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    options = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        bars = Path(tmp) / "btc_1h.parquet"
        resample_bars(pl.read_parquet(SAMPLE_FILES["BTC/USD"]), "1h").tail(8_760).write_parquet(
            bars
        )
        memory = []
        for _ in range(options.runs):
            report = run_study(study_args(bars))
            total = report["timings"]["total"]
            memory.append(SPLITS * TRIALS / total)
        figures: dict[str, Any] = {}
        with postgres_server(durable=True) as storage:
            for workers in options.workers:
                runs = []
                for _ in range(options.runs):
                    empty(storage)
                    run_study(study_args(bars, "--storage", storage, "--workers", str(workers)))
                    runs.append(throughput(storage))
                rates = [r["trials_per_second"] for r in runs]
                figures[str(workers)] = {
                    "median_trials_per_second": statistics.median(rates),
                    "runs": runs,
                }
    base = figures[str(options.workers[0])]["median_trials_per_second"]
    for entry in figures.values():
        entry["speedup_vs_first"] = round(entry["median_trials_per_second"] / base, 2)
    print(
        json.dumps(
            {
                "benchmark": "optuna_postgresql_workers",
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "study": {
                    "strategy": "ema_cross",
                    "bars": 8_760,
                    "splits": SPLITS,
                    "trials_per_fold": TRIALS,
                    "batch_size": BATCH,
                },
                "in_memory_one_process_trials_per_second": round(statistics.median(memory), 2),
                "postgresql": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
