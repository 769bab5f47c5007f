"""Market-data speed: one symbol-year of 1h bars read from the lake and from DuckDB, and the
wall time of materializing the whole bundled sample. Prints one JSON object.

    .venv/bin/python benchmarks/bench_market_data.py [--repeat 200] [--skip-materialize]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.warehouse import DuckDBWarehouse

ROOT = Path(__file__).resolve().parents[1]
YEAR = (datetime(2018, 1, 1, tzinfo=UTC), datetime(2019, 1, 1, tzinfo=UTC))


def _timed(fn, repeat: int) -> dict[str, float]:
    fn()  # warm the file cache and imports
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 3),
        "min_ms": round(samples[0], 3),
        "repeat": repeat,
    }


def _materialize(data_dir: Path, home: Path) -> float:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "MAESTRO_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("maestro")), "materialize", "--job", "market_data_job"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, help="an already materialized data dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        figures: dict[str, object] = {"machine_cores": os.cpu_count()}
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            figures["materialize_full_sample_seconds"] = round(
                _materialize(data_dir, Path(tmp) / "home"), 2
            )
            figures["materialize_partitions"] = 48
        settings = Settings(data_dir=data_dir)
        lake = settings.lake
        rows = lake.read_bars("sample", "BTC/USD", "1h", *YEAR).height
        figures["rows_read"] = rows
        figures["lake_read_1y_1h"] = _timed(
            lambda: lake.read_bars("sample", "BTC/USD", "1h", *YEAR), args.repeat
        )
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
            figures["duckdb_read_1y_1h"] = _timed(
                lambda: DuckDBWarehouse(conn).read_bars("sample", "BTC/USD", "1h", *YEAR),
                args.repeat,
            )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
