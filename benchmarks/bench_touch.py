"""What a person touches, timed as whole processes from outside; prints one JSON object.

    .venv/bin/python benchmarks/bench_touch.py [--runs 3] [--skip graph,api]

Rows (medians of --runs, each a fresh process; commands measured side by side, interleaved):

* ``cli``: ``maestro --help`` and ``maestro strategies``;
* ``backtest``: ``maestro backtest --strategy ema_cross`` on a year of 1h bars, one
  Backtrader process doing the same backtest on the same file (``backtrader_backtest.py``),
  and two floors: a process loading only the CLI libraries and the bars, and one loading only
  numba and a cached kernel;
* ``walk_forward``: 10 splits x 100 trials in process (the sampler's share of it), and
  ``maestro walk-forward`` end to end beside the Backtrader process;
* ``code_location``: a process importing the Dagster definitions;
* ``api``: ``benchmarks/bench_api.py`` (start-up, bars latency at 1 and 50 clients);
* ``graph``: a fresh data directory and instance: the API and Dagster UI started as
  ``make run`` starts them, seconds until both answer, then ``maestro materialize --missing
  --workers 2`` (the whole sample graph) and a second one (reusing everything).

The machine's load average is recorded beside the figures: it is shared, so compare ratios
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MAESTRO = str(BIN / "maestro")


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - started


def medians(commands: dict[str, list[str]], runs: int) -> dict[str, dict]:
    """Each command ``runs`` times, interleaved so that load changes hit all alike."""
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            seconds[name].append(timed(command))
    return {
        name: {"median_s": round(statistics.median(v), 3), "runs_s": [round(x, 3) for x in v]}
        for name, v in seconds.items()
    }


def year_of_hours(path: Path) -> Path:
    import polars as pl

    from maestro_pipeline.engine.bars import resample_bars
    from maestro_pipeline.sources.sample import SAMPLE_FILES

    bars = resample_bars(pl.read_parquet(SAMPLE_FILES["BTC/USD"]), "1h").tail(8_760)
    bars.write_parquet(path)
    return path


def cli_row(runs: int) -> dict:
    return medians(
        {"maestro --help": [MAESTRO, "--help"], "maestro strategies": [MAESTRO, "strategies"]},
        runs,
    )


def backtest_row(bars: Path, runs: int) -> dict:
    timings = medians(
        {
            "maestro backtest": [MAESTRO, "backtest", "--strategy", "ema_cross", "--data",
                                 str(bars), "--json"],
            "backtrader process": [sys.executable, "benchmarks/backtrader_backtest.py", str(bars)],
            # Floors: what any backtest command loads before the engine, and what the engine's
            # JIT runtime alone costs (numba's import and a kernel loaded from its disk cache).
            "floor: CLI + bars, no engine": [sys.executable, "-c", _CLI_FLOOR, str(bars)],
            "floor: numba runtime": [sys.executable, "-c", _NUMBA_FLOOR],
        },
        runs,
    )  # fmt: skip
    backtrader = timings["backtrader process"]["median_s"]
    ratio = backtrader / timings["maestro backtest"]["median_s"]
    return {**timings, "speedup_vs_backtrader": round(ratio, 2), "goal_s": round(backtrader / 3, 3)}


_CLI_FLOOR = (
    "import sys, numpy, typer, rich.console, rich.table, polars as pl; pl.read_parquet(sys.argv[1])"
)
_NUMBA_FLOOR = (
    "import numpy as np; from maestro_pipeline.engine.indicators import ema; ema(np.ones(99), 9)"
)


def walk_forward_row(bars: Path, runs: int) -> dict:
    in_process = subprocess.run(
        [sys.executable, "benchmarks/bench_walk_forward.py", "--runs", str(runs), "--no-sqlite"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    memory = json.loads(in_process.stdout)["memory"]
    timings = medians(
        {
            "maestro walk-forward": [MAESTRO, "walk-forward", "--strategy", "ema_cross",
                                     "--data", str(bars), "--json"],
            "backtrader process": [sys.executable, "benchmarks/backtrader_backtest.py", str(bars)],
        },
        runs,
    )  # fmt: skip
    wall = memory["wall_seconds_median"]
    return {
        "in_process_wall_s": wall,
        "in_process_sampler_share": round(memory["sampling_seconds"] / memory["wall_seconds"], 3),
        **timings,
        "cli_vs_one_backtrader_process": round(
            timings["backtrader process"]["median_s"] / timings["maestro walk-forward"]["median_s"],
            2,
        ),
    }


def code_location_row(runs: int) -> dict:
    return medians(
        {"import definitions": [sys.executable, "-c", "import maestro_pipeline.definitions"]},
        runs,
    )


def api_row() -> dict:
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_api.py"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        return {"error": done.stderr[-500:]}
    return json.loads(done.stdout)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graph_row() -> dict:
    """`make run` on a fresh data directory: UIs first, then the whole graph behind them."""
    work = Path(tempfile.mkdtemp(prefix="maestro-touch-"))
    home = work / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MAESTRO_DATA_DIR": str(work / "data")}
    api_port, dagster_port = _port(), _port()
    started = time.perf_counter()
    servers = [
        subprocess.Popen(
            [MAESTRO, "serve", "--port", str(api_port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(dagster_port),
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    try:
        subprocess.run(
            [MAESTRO, "wait-for", f"http://127.0.0.1:{api_port}/api/v2/health",
             f"http://127.0.0.1:{dagster_port}/server_info"],
            env=env, check=True, timeout=600,
        )  # fmt: skip
        uis = time.perf_counter() - started
        first = timed([MAESTRO, "materialize", "--missing", "--workers", "2"], env)
        second = timed([MAESTRO, "materialize", "--missing", "--workers", "2"], env)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "uis_answer_s": round(uis, 1),
        "graph_materialized_s": round(first, 1),
        "start_to_graph_done_s": round(uis + first, 1),
        "second_run_s": round(second, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated rows to skip")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    out: dict = {"load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        bars = year_of_hours(Path(tmp) / "btc_1h.parquet")
        rows = {
            "cli": lambda: cli_row(args.runs),
            "backtest": lambda: backtest_row(bars, args.runs),
            "walk_forward": lambda: walk_forward_row(bars, args.runs),
            "code_location": lambda: code_location_row(args.runs),
            "api": api_row,
            "graph": graph_row,
        }
        for name, row in rows.items():
            if name not in skip:
                out[name] = row()
    out["load_average_after"] = os.getloadavg()
    out["cpus"] = os.cpu_count()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
