"""API latency: `GET /api/v2/bars/BTC-USD?timeframe=1h` for one year of 1h bars (8,760 bars),
median and p99 at 1 and 50 concurrent clients, measured with wrk on loopback against uvicorn
started here (and stopped after). Prints one JSON object.

    .venv/bin/python benchmarks/bench_api.py [--seconds 10] [--keep-data DIR]

Needs `wrk` (apt-get install -y wrk); without it an asyncio httpx client measures instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
YEAR_MONTHS = tuple(f"2018-{m:02d}-01" for m in range(1, 13))
YEAR_QUERY = "timeframe=1h&start=2018-01-01&end=2019-01-01"
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "errors": %d, "non_2xx": %d, '
    .. '"median_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "bytes": %d}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, summary.bytes))
end
"""


def materialize_year(data_dir: Path) -> float:
    """One year of BTC/USD bars through the real Dagster market-data assets; seconds taken."""
    import dagster as dg

    from maestro_pipeline.defs.market_data import market_data_assets
    from maestro_pipeline.defs.resources import build_resources
    from maestro_pipeline.settings import Settings

    started = time.perf_counter()
    resources = build_resources(Settings(data_dir=data_dir))
    with dg.DagsterInstance.ephemeral() as instance:
        for month in YEAR_MONTHS:
            result = dg.materialize(
                market_data_assets,
                partition_key=f"{month}|BTC/USD",
                resources=resources,
                instance=instance,
                raise_on_error=True,
            )
            assert result.success
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """uvicorn serving api.main:app on loopback, in its own process group."""

    def __init__(self, data_dir: Path, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MAESTRO_DATA_DIR": str(data_dir)}
        command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(workers)]
        command += ["--log-level", "warning", "--no-access-log"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/v2/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("uvicorn did not answer within 60 s")

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def run_wrk(url: str, clients: int, seconds: int, script: Path) -> dict:
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s"]
    command += [str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    report = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    report["requests_per_s"] = round(report["requests"] / report["duration_s"], 1)
    report["response_kb"] = round(report["bytes"] / max(report["requests"], 1) / 1024, 1)
    return report


async def _client_loop(client: httpx.AsyncClient, url: str, stop: float, samples: list) -> int:
    errors = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        response = await client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        errors += response.status_code != 200
    return errors


async def _run_httpx(url: str, clients: int, seconds: int) -> dict:
    samples: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        stop = time.perf_counter() + seconds
        loops = [_client_loop(client, url, stop, samples) for _ in range(clients)]
        errors = sum(await asyncio.gather(*loops))
    samples.sort()
    return {
        "requests": len(samples),
        "non_2xx": errors,
        "requests_per_s": round(len(samples) / seconds, 1),
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(0.99 * (len(samples) - 1))], 3),
        "max_ms": round(samples[-1], 3),
    }


def measure(url: str, clients: int, seconds: int, script: Path | None) -> dict:
    if script is not None:
        return run_wrk(url, clients, seconds, script)
    return asyncio.run(_run_httpx(url, clients, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each level")
    parser.add_argument("--keep-data", type=Path, help="reuse (or create) this data directory")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="maestro-bench-api-"))
    data_dir = args.keep_data or scratch / "data"
    materialize_s = None
    if not (data_dir / "lake" / "bars").is_dir():
        materialize_s = round(materialize_year(data_dir), 2)
    tool = "wrk" if shutil.which("wrk") else "httpx-asyncio"
    script = None
    if tool == "wrk":
        script = scratch / "report.lua"
        script.write_text(WRK_REPORT)

    levels = [  # (label, uvicorn workers, clients, query)
        ("year_1h_1_client", 1, 1, YEAR_QUERY),
        ("year_1h_50_clients", 1, 50, YEAR_QUERY),
        ("year_1h_50_clients_2_workers", 2, 50, YEAR_QUERY),
        ("latest_500_1h_50_clients", 1, 50, "timeframe=1h&limit=500"),
    ]
    results: dict[str, dict] = {}
    try:
        for workers in sorted({w for _, w, _, _ in levels}):
            with Server(data_dir, workers) as server:
                for label, level_workers, clients, query in levels:
                    if level_workers != workers:
                        continue
                    url = f"{server.base}/api/v2/bars/BTC-USD?{query}"
                    first = httpx.get(url, timeout=30)
                    first.raise_for_status()
                    figures = measure(url, clients, args.seconds, script)
                    results[label] = {
                        "clients": clients,
                        "uvicorn_workers": workers,
                        "bars": first.json()["count"],
                        **figures,
                        # Little's law: with every client always waiting, the mean latency is
                        # clients / throughput; above 1 client, queueing sets the median.
                        "queueing_floor_ms": round(clients / figures["requests_per_s"] * 1000, 2),
                    }
    finally:
        if args.keep_data is None:
            shutil.rmtree(scratch, ignore_errors=True)

    goal = results["year_1h_50_clients"]["p99_ms"] < 10.0
    print(
        json.dumps(
            {
                "benchmark": "GET /api/v2/bars/BTC-USD (one year of 1h bars)",
                "tool": tool,
                "cpu_cores": os.cpu_count(),
                "seconds_per_level": args.seconds,
                "materialize_year_s": materialize_s,
                "levels": results,
                "goal_p99_below_10ms_at_50_clients": goal,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
