"""POST /optimization: validation, 503 without Dagster, the bearer token, and a real study run
launched through a real Dagster webserver, followed over the progress WebSocket to its published
results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from maestro_pipeline.keys import StudyKey
from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.studies import StudyStore
from tests.api.conftest import STUDY_ID, TestClient, api_config, free_port
from tests.api.test_progress_stream import _receive_until_closed
from tests.support.processes import COMMAND_SECONDS, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v2/optimization"
KEY = StudyKey("ema_cross", "BTC/USD", "1h")
VALID = {"strategy": "ema_cross", "symbol": "BTC/USD", "timeframe": "1h"}
TOKEN = "launch-token-for-tests"


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
def dagster_webserver(published, tmp_path_factory):
    """A real `dagster-webserver` on the project's workspace, with its own DAGSTER_HOME and a
    copy of the materialized data directory (an earlier completed study included). Runs launch
    at once (default run coordinator: no daemon needed) in their own processes."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    data_dir = tmp_path_factory.mktemp("dagster_data") / "data"
    shutil.copytree(published.data_dir, data_dir)
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "MAESTRO_DATA_DIR": str(data_dir)}
    webserver = Path(sys.executable).with_name("dagster-webserver")
    log = home / "webserver.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Ready once the code location is loaded (its code server imported the definitions),
        # not merely once the webserver answers: only then can a run be launched.
        loaded = wait_until(
            lambda: _location_status(url, "maestro"),
            "dagster-webserver's code location loaded",
            process=process,
            log=log,
            interval=0.5,
        )
        assert loaded == "RepositoryLocation", log.read_text(errors="replace")[-3000:]
        yield url, home, data_dir
    finally:
        # The whole process group: its code server and run workers included.
        stop(process, group=True)


def _location_status(url: str, name: str) -> str | None:
    """The GraphQL type of code location ``name`` once it has loaded (``RepositoryLocation``,
    or ``PythonError`` if its code failed to load); None while it loads."""
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
    query += "locationOrLoadError { __typename } } } } }"
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=10)
    for entry in response.json()["data"]["workspaceOrError"]["locationEntries"]:
        if entry["name"] == name and entry["loadStatus"] == "LOADED":
            return entry["locationOrLoadError"]["__typename"]
    return None


def _run(home: Path, run_id: str):
    from dagster import DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with DagsterInstance.get() as instance:
            return instance.get_run_by_id(run_id)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous


def _run_ids(home: Path) -> set[str]:
    from dagster import DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with DagsterInstance.get() as instance:
            return {run.run_id for run in instance.get_runs()}
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous


def test_without_the_token_nothing_reaches_dagster(dagster_webserver, tmp_path):
    url, home, _ = dagster_webserver
    app = create_app(
        Settings(data_dir=tmp_path / "data"),
        api_config(tmp_path, dagster_url=url, api_token=TOKEN),
    )
    before = _run_ids(home)
    with TestClient(app) as client:
        assert httpx.get(f"{url}/server_info", timeout=5).status_code == 200  # it is listening
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            response = client.post(API, json={**VALID, "n_trials": 5}, headers=headers)
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert _run_ids(home) == before


def test_submitted_study_runs_in_dagster_and_streams_progress(dagster_webserver, tmp_path):
    """POST with the token -> a Dagster run of the study partition -> progress over the
    WebSocket -> results."""
    url, home, data_dir = dagster_webserver
    before = StudyStore(data_dir).read_summary(KEY)["version"]
    runs_before = _run_ids(home)
    app = create_app(
        Settings(data_dir=data_dir),
        api_config(
            tmp_path, dagster_url=url, progress_max_seconds=COMMAND_SECONDS, api_token=TOKEN
        ),
    )
    with TestClient(app) as client:
        response = client.post(
            API,
            json={**VALID, "n_splits": 2, "n_trials": 8},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["study_id"] == STUDY_ID
        assert body["partition_key"] == "BTC/USD@1h|ema_cross"
        assert body["progress_url"] == f"{API}/{STUDY_ID}/progress?run_id={body['run_id']}"
        with client.websocket_connect(body["progress_url"]) as ws:
            # The earlier study's "completed" does not count: this run's progress does.
            assert ws.receive_json()["status"] == "pending"
            messages, code, reason = _receive_until_closed(ws)
        detail = client.get(f"{API}/{STUDY_ID}").json()

    assert _run_ids(home) - runs_before == {body["run_id"]}
    run = _run(home, body["run_id"])
    assert run.job_name == "walk_forward_job"
    assert run.tags["dagster/partition"] == "BTC/USD@1h|ema_cross"
    assert run.tags["dagster/partition/strategy"] == "ema_cross"
    assert run.tags["dagster/partition/series"] == "BTC/USD@1h"
    assert run.run_config["ops"]["walk_forward_study"]["config"] == {"n_splits": 2, "n_trials": 8}
    assert reason == "completed" and code == 1000, (reason, messages[-3:], run.status)
    assert any(m["status"] == "running" for m in messages)
    assert all(m.get("run_id") == body["run_id"] for m in messages)
    assert detail["version"] == messages[-1]["version"] != before
