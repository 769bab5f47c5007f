"""POST /optimization: validation, 503 without Dagster, and a real launch through a real
Dagster webserver (the run is queued; no daemon dequeues it in the test)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from tests.api.conftest import STUDY_ID, api_config, free_port

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v2/optimization"
VALID = {"strategy": "ema_cross", "symbol": "BTC/USD", "timeframe": "1h"}


def test_no_dagster_webserver_gives_a_clear_503(client):
    response = client.post(API, json={**VALID, "n_trials": 5})
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "no Dagster webserver answers at http://127.0.0.1:" in detail
    assert "MAESTRO_DAGSTER_URL" in detail


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"strategy": "no_such_rule"}, 422, "strategy"),
        ({"symbol": "../../etc"}, 422, "symbol"),
        ({"symbol": "DOGE/USD"}, 404, "symbol"),
        ({"timeframe": "4h"}, 404, "timeframe"),
        ({"timeframe": "1x"}, 422, "timeframe"),
        ({"n_trials": 0}, 422, "n_trials"),
        ({"n_splits": 10_000}, 422, "n_splits"),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_submissions_name_the_field(client, change, status, field):
    response = client.post(API, json={**VALID, **change})
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


@pytest.fixture(scope="module")
def dagster_webserver(tmp_path_factory):
    """A real `dagster-webserver` on the project's workspace, with its own DAGSTER_HOME."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MAESTRO_DATA_DIR": str(tmp_path_factory.mktemp("dagster_data")),
    }
    webserver = Path(sys.executable).with_name("dagster-webserver")
    process = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "dagster-webserver exited"
            assert time.monotonic() < deadline, "dagster-webserver did not start in 90 s"
            time.sleep(0.5)
        yield url, home
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_submission_launches_a_partitioned_run_in_dagster(published, dagster_webserver, tmp_path):
    from dagster import DagsterInstance
    from dagster_graphql import DagsterGraphQLClient

    from tests.api.conftest import TestClient

    url, home = dagster_webserver
    app = create_app(published, api_config(tmp_path, dagster_url=url))
    with TestClient(app) as client:
        response = client.post(API, json={**VALID, "n_splits": 2, "n_trials": 7})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["study_id"] == STUDY_ID
    assert body["partition_key"] == "BTC/USD@1h|ema_cross"
    assert body["progress_url"] == f"{API}/{STUDY_ID}/progress"
    port = int(url.rsplit(":", 1)[1])
    status = DagsterGraphQLClient("127.0.0.1", port_number=port).get_run_status(body["run_id"])
    assert status.value in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
    os.environ["DAGSTER_HOME"], previous = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with DagsterInstance.get() as instance:
            run = instance.get_run_by_id(body["run_id"])
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous
    assert run.job_name == "walk_forward_job"
    assert run.tags["dagster/partition"] == "BTC/USD@1h|ema_cross"
    assert run.tags["dagster/partition/strategy"] == "ema_cross"
    assert run.tags["dagster/partition/series"] == "BTC/USD@1h"
    assert run.run_config["ops"]["walk_forward_study"]["config"] == {"n_splits": 2, "n_trials": 7}
