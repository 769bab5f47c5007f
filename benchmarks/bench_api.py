"""API latency and start-up. `GET /api/v2/bars/BTC-USD` for one year of 1h bars (8,760 bars):
median, p99 and requests/s at 1 and 50 concurrent clients, measured with wrk on loopback
against uvicorn started here with 1 worker, the `maestro serve` default and one per core; the
API's start-up (process start -> first 200 on /health) and what `import api.main` costs.
Prints one JSON object.

    .venv/bin/python benchmarks/bench_api.py [--seconds 5] [--repeats 3] [--keep-data DIR]
        [--source NAME=DIR ...]

Clients ask as a browser does (`Accept-Encoding: gzip, deflate`) unless the level says
otherwise. Each level runs `--repeats` times; figures are medians of the runs. `--source
NAME=DIR` measures another source tree the same way in the same run (before this tree), for a
before/after comparison, e.g. `git archive <rev> api maestro_pipeline | tar -x -C DIR`. The
machine's load (busy cores from /proc/stat, load average) is sampled before and after: p99 on
a shared machine is mostly other processes taking the CPU.

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
YEAR_PATH = "/api/v2/bars/BTC-USD?timeframe=1h&start=2018-01-01&end=2019-01-01"
BROWSER = {"Accept-Encoding": "gzip, deflate"}  # what browsers send over plain http
HEAVY = ("vectorbt", "quantstats", "scipy", "matplotlib", "plotly", "ccxt")
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


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores were busy (all processes) over ``seconds``, from /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
    except OSError:
        return float("nan")
    return round((busy1 - busy0) / max(total1 - total0, 1) * (os.cpu_count() or 1), 2)


def machine_load() -> dict:
    return {"busy_cores": busy_cores(), "loadavg_1m": round(os.getloadavg()[0], 2)}


def server_env(source: Path, data_dir: Path) -> dict[str, str]:
    """The environment of a server importing ``api`` and ``maestro_pipeline`` from ``source``."""
    env = {**os.environ, "MAESTRO_DATA_DIR": str(data_dir)}
    if source != ROOT:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return env


class Server:
    """A command serving the API on loopback, in its own process group."""

    def __init__(self, command: list[str], source: Path, data_dir: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=source,
            env=server_env(source, data_dir),
            start_new_session=True,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.ready_s: float | None = None

    def wait_ready(self, limit_s: float = 120) -> Server:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/v2/health", timeout=1).status_code == 200:
                    self.ready_s = time.perf_counter() - self.started
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                self.log.seek(0)
                output = self.log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{output}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the API did not answer within {limit_s} s")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def uvicorn_command(port: int, workers: int) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    return [*command, "--log-level", "warning", "--no-access-log"]


def serve_command(port: int) -> list[str]:
    """`maestro serve` with its default worker count."""
    return [sys.executable, "-m", "maestro_pipeline.cli", "serve", "--port", str(port)]


def import_cost(source: Path, data_dir: Path) -> dict:
    """Seconds to `import api.main` in a fresh process, and which heavy libraries it loads."""
    code = (
        "import json, sys, time; t = time.perf_counter(); import api.main; "
        "s = time.perf_counter() - t; "
        f"print(json.dumps([s, [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    runs = []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=source,
            env=server_env(source, data_dir),
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "import_api_main_s": round(statistics.median(r[0] for r in runs), 2),
        "heavy_modules_imported": runs[-1][1],
    }


def startup(source: Path, data_dir: Path, command, repeats: int) -> dict:
    """Process start -> first 200 on /health, ``repeats`` times."""
    runs = []
    for _ in range(repeats):
        port = free_port()
        server = Server(command(port), source, data_dir, port)
        try:
            runs.append(server.wait_ready().ready_s)
        finally:
            server.stop()
    return {"median_s": round(statistics.median(runs), 2), "runs_s": [round(r, 2) for r in runs]}


def run_wrk(url: str, clients: int, seconds: int, script: Path, headers: dict) -> dict:
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s"]
    command += [str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    report = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    report["requests_per_s"] = report["requests"] / report["duration_s"]
    report["response_kb"] = report["bytes"] / max(report["requests"], 1) / 1024
    return report


async def _client_loop(client: httpx.AsyncClient, url: str, stop: float, samples: list) -> int:
    errors = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        response = await client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        errors += response.status_code >= 400
    return errors


async def _run_httpx(url: str, clients: int, seconds: int, headers: dict) -> dict:
    samples: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        stop = time.perf_counter() + seconds
        loops = [_client_loop(client, url, stop, samples) for _ in range(clients)]
        errors = sum(await asyncio.gather(*loops))
    samples.sort()
    return {
        "requests": len(samples),
        "errors": 0,
        "non_2xx": errors,
        "requests_per_s": len(samples) / seconds,
        "median_ms": statistics.median(samples),
        "p99_ms": samples[int(0.99 * (len(samples) - 1))],
        "max_ms": samples[-1],
    }


def measure(url: str, clients: int, seconds: int, script: Path | None, headers: dict) -> dict:
    if script is not None:
        return run_wrk(url, clients, seconds, script, headers)
    return asyncio.run(_run_httpx(url, clients, seconds, headers))


def levels_of(etag: str) -> list[tuple[str, int, dict]]:
    """(label, clients, request headers) of every level."""
    return [
        ("1_client", 1, BROWSER),
        ("50_clients", 50, BROWSER),
        ("50_clients_plain_json", 50, {}),  # a client that does not accept gzip
        ("50_clients_revalidating", 50, {**BROWSER, "If-None-Match": etag}),  # 304s
    ]


def throughput(
    source: Path, data_dir: Path, workers: int, seconds: int, repeats: int, script: Path | None
) -> dict:
    port = free_port()
    server = Server(uvicorn_command(port, workers), source, data_dir, port).wait_ready()
    results: dict[str, dict] = {}
    try:
        url = server.base + YEAR_PATH
        first = httpx.get(url, headers=BROWSER, timeout=60)
        first.raise_for_status()
        bars = first.json()["count"]
        for label, clients, headers in levels_of(first.headers["etag"]):
            for _ in range(10 * workers):  # new connections: each worker reads its first miss
                httpx.get(url, headers=headers, timeout=60)
            runs = [measure(url, clients, seconds, script, headers) for _ in range(repeats)]
            figures = {
                name: round(statistics.median(r[name] for r in runs), 3)
                for name in ("median_ms", "p99_ms", "requests_per_s", "response_kb")
                if name in runs[0]
            }
            results[label] = {
                "clients": clients,
                "bars": bars,
                **figures,
                "p99_ms_runs": [round(r["p99_ms"], 2) for r in runs],
                "errors": sum(r["errors"] + r["non_2xx"] for r in runs),
                # Little's law: with every client always waiting, the mean latency is
                # clients / throughput; above 1 client, queueing sets the median.
                "queueing_floor_ms": round(clients / figures["requests_per_s"] * 1000, 2),
            }
    finally:
        server.stop()
    return results


def measure_source(
    source: Path, data_dir: Path, args: argparse.Namespace, script: Path | None
) -> dict:
    from maestro_pipeline.cli.serve import default_workers

    workers = default_workers()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    report: dict = {"source": str(source), **import_cost(source, data_dir)}
    report["startup_uvicorn_1_worker"] = startup(
        source, data_dir, lambda port: uvicorn_command(port, 1), args.repeats
    )
    report["startup_maestro_serve"] = startup(source, data_dir, serve_command, args.repeats)
    for count in sorted({1, workers, cores or 1}):
        report[f"bars_year_1h_{count}_worker{'s' if count > 1 else ''}"] = throughput(
            source, data_dir, count, args.seconds, args.repeats, script
        )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per level and start-up")
    parser.add_argument("--keep-data", type=Path, help="reuse (or create) this data directory")
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also measure the source tree in DIR, reported as NAME",
    )
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

    from maestro_pipeline.cli.serve import default_workers

    try:
        load_before = machine_load()
        sources = {}
        for item in args.source:
            name, _, folder = item.partition("=")
            sources[name] = Path(folder).resolve()
        sources["this_tree"] = ROOT
        results = {
            name: measure_source(source, data_dir, args, script) for name, source in sources.items()
        }
        load_after = machine_load()
    finally:
        if args.keep_data is None:
            shutil.rmtree(scratch, ignore_errors=True)

    workers = default_workers()
    ours = results["this_tree"]
    fifty = ours[f"bars_year_1h_{workers}_worker{'s' if workers > 1 else ''}"]["50_clients"]
    print(
        json.dumps(
            {
                "benchmark": "GET /api/v2/bars/BTC-USD (one year of 1h bars) and API start-up",
                "tool": tool,
                "cpu_cores": os.cpu_count(),
                "default_workers": workers,
                "seconds_per_run": args.seconds,
                "repeats": args.repeats,
                "materialize_year_s": materialize_s,
                "machine_load_before": load_before,
                "machine_load_after": load_after,
                **results,
                "goal_p99_below_10ms_at_50_clients": fifty["p99_ms"] < 10.0,
                "goal_startup_below_2s": ours["startup_maestro_serve"]["median_s"] < 2.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
