"""WS /optimization/{tid}/progress during a real short study materialized by Dagster."""

from __future__ import annotations

import shutil
import threading

import dagster as dg
import pytest
from starlette.websockets import WebSocketDisconnect

from api.main import create_app
from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.defs.studies import walk_forward_study
from maestro_pipeline.settings import Settings
from tests.api.conftest import STUDY_ID, STUDY_PARTITION, TestClient, api_config
from tests.support.processes import COMMAND_SECONDS

PROGRESS = f"/api/v2/optimization/{STUDY_ID}/progress"


def _receive_until_closed(ws) -> tuple[list[dict], int, str]:
    messages = []
    while True:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            return messages, closed.code, closed.reason


def test_progress_streams_a_running_study_until_it_completes(published, tmp_path):
    # Bars copied from the fixture; the study itself runs fresh in this data directory.
    settings = Settings(data_dir=tmp_path / "data")
    shutil.copytree(published.data_dir / "lake", settings.data_dir / "lake")
    outcome: dict[str, object] = {}

    def run_study() -> None:
        config = {"n_splits": 3, "n_trials": 40, "min_trades": 1}
        try:
            with dg.DagsterInstance.ephemeral() as instance:
                outcome["result"] = dg.materialize(
                    [walk_forward_study],
                    partition_key=STUDY_PARTITION,
                    resources=build_resources(settings),
                    instance=instance,
                    run_config={"ops": {"walk_forward_study": {"config": config}}},
                )
        except BaseException as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    app = create_app(
        settings,
        api_config(tmp_path, progress_poll_seconds=0.02, progress_max_seconds=COMMAND_SECONDS),
    )
    study = threading.Thread(target=run_study)
    with TestClient(app) as client, client.websocket_connect(PROGRESS) as ws:
        assert ws.receive_json() == {"study_id": STUDY_ID, "status": "pending"}
        study.start()
        messages, code, reason = _receive_until_closed(ws)
    study.join(timeout=COMMAND_SECONDS)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].success

    statuses = [m["status"] for m in messages]
    assert statuses[-1] == "completed" and code == 1000 and reason == "completed"
    running = [m for m in messages if m["status"] == "running"]
    assert len(running) >= 3, messages
    assert all(m["run_id"] == outcome["result"].run_id for m in running)
    folds_seen = {m["fold"] for m in running if m.get("trials_done")}
    assert folds_seen == {0, 1, 2}
    with_trials = [m for m in running if m.get("trials_done")]
    assert all(m["n_folds"] == 3 and m["n_trials"] == 40 for m in with_trials)
    assert any(m["best_value"] is not None for m in with_trials)
    assert messages[-1]["version"]  # the published version the run produced


def test_a_published_study_reports_completed_at_once(client):
    with client.websocket_connect(PROGRESS) as ws:
        messages, code, _ = _receive_until_closed(ws)
    assert [m["status"] for m in messages] == ["completed"] and code == 1000


def test_malformed_study_id_is_refused_with_a_reason(client):
    with client.websocket_connect("/api/v2/optimization/nonsense/progress") as ws:
        messages, code, _ = _receive_until_closed(ws)
    assert messages[0]["field"] == "tid" and "invalid study id" in messages[0]["error"]
    assert code == 1008
    with pytest.raises(WebSocketDisconnect):  # a slash never reaches the study store
        client.websocket_connect("/api/v2/optimization/..%2F..%2Fetc/progress").__enter__()


def test_stream_closes_after_the_time_limit(tmp_path):
    app = create_app(
        Settings(data_dir=tmp_path / "empty"), api_config(tmp_path, progress_max_seconds=0.3)
    )
    with TestClient(app) as client, client.websocket_connect(PROGRESS) as ws:
        messages, code, reason = _receive_until_closed(ws)
    assert [m["status"] for m in messages] == ["pending"]
    assert code == 1000 and reason == "time limit reached"
