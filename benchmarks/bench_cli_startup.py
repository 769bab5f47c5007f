"""Wall time of the `maestro` commands that only read the catalog, as JSON.

`maestro --help` and `maestro strategies` import no numeric library: the catalog of strategies
(names, rules, parameters) is declarations only, and indicator code loads when signals are
computed. Each command runs REPEATS times in a fresh process; the median is reported, with the
heavy modules the `strategies` command imported (there should be none).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 7
COMMANDS = {
    "maestro --help": ["--help"],
    "maestro strategies": ["strategies"],
    "maestro strategies --json": ["strategies", "--json"],
}
HEAVY = ("numpy", "numba", "vectorbt", "pandas", "polars", "quantstats", "ccxt", "dagster")
PROBE = (
    "import sys\n"
    "from maestro_pipeline.cli import app\n"
    "try:\n"
    "    app(['strategies', '--json'])\n"
    "except SystemExit:\n"
    "    pass\n"
    f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def _seconds(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "maestro_pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    env = {**os.environ, "MAESTRO_STRATEGY_PATH": "", "COLUMNS": "160"}
    figures: dict[str, object] = {"repeats": REPEATS}
    for label, args in COMMANDS.items():
        runs = [_seconds(args, env) for _ in range(REPEATS)]
        figures[label] = {
            "median_s": round(statistics.median(runs), 3),
            "min_s": round(min(runs), 3),
        }
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    figures["strategies_imports_heavy_modules"] = json.loads(
        probe.stderr.strip().splitlines()[-1].replace("'", '"')
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
