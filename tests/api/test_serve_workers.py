"""`maestro serve` with several worker processes: each keeps its own response cache, and any of
them answers a revalidation of another's ETag with a 304."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from maestro_pipeline.settings import Settings
from tests.api.conftest import free_port, month_bars

URL = "/api/v2/bars/BTC-USD"
QUERY = {"timeframe": "1h", "start": "2018-01-01", "end": "2018-04-01"}
MONTHS = ("2018-01", "2018-02", "2018-03")
GZIP = {"Accept-Encoding": "gzip"}


def test_every_worker_answers_the_same_etag_and_revalidates_it(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    for month in MONTHS:
        settings.lake.write_month("bars", "sample", "BTC/USD", "1h", month, month_bars(month))
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "MAESTRO_DATA_DIR": str(settings.data_dir)}
    command = [sys.executable, "-m", "maestro_pipeline.cli", "serve", "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # A new connection per request: the kernel hands them to either worker.
        answers = [httpx.get(base + URL, params=QUERY, headers=GZIP) for _ in range(12)]
        assert {a.status_code for a in answers} == {200}
        assert len({a.headers["etag"] for a in answers}) == 1
        assert len({a.content for a in answers}) == 1
        etag = answers[0].headers["etag"]
        for _ in range(12):
            again = httpx.get(base + URL, params=QUERY, headers={**GZIP, "If-None-Match": etag})
            assert again.status_code == 304
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    started = log.read_text()
    assert "2 workers" in started
    assert started.count("Started server process") == 2
