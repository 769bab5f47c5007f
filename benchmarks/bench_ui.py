"""UI speed: time from navigation start to the study page's charts being drawn
(`data-ready="true"`, stamped as `window.__maestroReadyAt = performance.now()`), for a study
with two years of 1h bars, in headless Chromium against the API (serving `frontend/dist`)
started here on a free port and stopped after. Each run uses a fresh browser context (empty
HTTP cache). Prints one JSON object; the goal is median_ms < 1000.

    .venv/bin/python benchmarks/bench_ui.py [DATA_DIR] [--study ID] [--runs 5]

DATA_DIR (default /tmp/dgt/d4) must hold materialized bars and the study; build the UI first
(cd frontend && npm ci && npm run build).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MAESTRO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_api(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "MAESTRO_DATA_DIR": str(data_dir)}
    env.pop("MAESTRO_FRONTEND_DIST", None)
    cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/health", timeout=2):
                return proc, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    proc.terminate()
    raise SystemExit("the API did not answer /api/v2/health within 90 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", default="/tmp/dgt/d4", type=Path)
    parser.add_argument("--study", default="ema_cross.BTC-USD.1h")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        raise SystemExit("frontend/dist is missing: cd frontend && npm ci && npm run build")

    proc, url = _start_api(args.data_dir.resolve())
    runs: list[float] = []
    counts: dict[str, str | None] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(f"{url}/#/study/{args.study}")
                view = page.locator('[data-testid="study-view"][data-ready="true"]')
                view.wait_for(timeout=30_000)
                runs.append(round(page.evaluate("window.__maestroReadyAt"), 1))
                counts = {
                    "candles": view.get_attribute("data-candle-count"),
                    "markers": view.get_attribute("data-marker-count"),
                }
                context.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(
        json.dumps(
            {
                "study": args.study,
                "data_dir": str(args.data_dir),
                "candles": int(counts["candles"] or 0),
                "markers": int(counts["markers"] or 0),
                "median_ms": round(statistics.median(runs), 1),
                "runs": runs,
                "goal_ms": 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
