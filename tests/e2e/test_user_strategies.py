"""User strategy files through the whole pipeline, the way a deployment runs them: `maestro
materialize` (new processes: the definitions load the catalog as a code-location reload does)
on a temporary Dagster instance and data directory, then the API over what was published.

* a sound strategy becomes a study partition, passes its blocking bias check, is studied and
  ranked, and the API lists it;
* a strategy with lookahead and one with an unstable warm-up fail the blocking check, which
  names the offending bar, and their studies never run;
* a broken file leaves the built-ins, the code location and the API working;
* editing a strategy changes its code version: its study turns stale in Dagster, the weekly
  schedule re-runs it, and the re-run starts a new Optuna study instead of resuming the old one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from maestro_pipeline.keys import StudyKey
from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.studies import StudyStore
from tests.support.strategy_files import LOOKAHEAD, SOUND, SYNTAX_ERROR, UNSTABLE, write

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOUND_PARTITION = "BTC/USD@1h|range_break"
BIASED = {"peeks_next_close": "lookahead", "above_first_close": "warmup"}


def _maestro(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maestro_pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _probe(env: dict[str, str], *partitions: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.dagster_probe", *partitions],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> dict:
    """Four months of BTC/USD bars; the sound and the two biased strategies' studies run."""
    root = tmp_path_factory.mktemp("deployment")
    strategies = write(
        root / "strategies",
        range_break=SOUND,
        peeks_next_close=LOOKAHEAD,
        above_first_close=UNSTABLE,
        broken=SYNTAX_ERROR,
    )
    (root / "dagster_home").mkdir()
    env = {
        **os.environ,
        "MAESTRO_STRATEGY_PATH": str(strategies),
        "MAESTRO_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "MAESTRO_SYMBOLS": "BTC/USD",
        "MAESTRO_START": "2018-01-01",
        "MAESTRO_END": "2018-05-01",
        "MAESTRO_STUDY_SPLITS": "2",
        "MAESTRO_STUDY_TRIALS": "10",
        "MAESTRO_STUDY_MIN_TRADES": "1",
    }
    bars = _maestro(env, "materialize", "--job", "market_data_job")
    assert bars.returncode == 0, bars.stderr[-3000:]
    studies = _maestro(
        env, "materialize", "--job", "walk_forward_job",
        "--partition", SOUND_PARTITION,
        *(f"--partition=BTC/USD@1h|{name}" for name in BIASED),
    )  # fmt: skip
    board = _maestro(env, "materialize", "--job", "leaderboard_job")
    assert board.returncode == 0, board.stderr[-3000:]
    return {"env": env, "root": root, "strategies": strategies, "studies": studies}


def _instance(env: dict[str, str]):
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"]))


def _partition_runs(instance, partition: str) -> list:
    import dagster as dg

    return instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": partition}))


def _events(instance, run_id: str, kind) -> list:
    return [e.dagster_event for e in instance.all_logs(run_id, of_type=kind)]


def test_a_user_strategy_is_studied_ranked_and_listed(deployment, monkeypatch):
    from dagster import DagsterEventType

    from api.main import create_app
    from maestro_pipeline.catalog import load_catalog
    from tests.api.conftest import api_config

    env = deployment["env"]
    assert deployment["studies"].returncode == 1  # the two biased studies are refused
    assert f"walk_forward_job {SOUND_PARTITION}" not in deployment["studies"].stdout
    version = load_catalog(env["MAESTRO_STRATEGY_PATH"]).get("range_break").code_version

    with _instance(env) as instance:
        [run] = _partition_runs(instance, SOUND_PARTITION)
        assert run.is_success
        [check] = [
            e.event_specific_data
            for e in _events(instance, run.run_id, DagsterEventType.ASSET_CHECK_EVALUATION)
            if e.event_specific_data.check_name == "strategy_passes_bias_checks"
        ]
        assert check.passed
        materialized = {
            e.asset_key.to_user_string(): e.event_specific_data.materialization
            for e in _events(instance, run.run_id, DagsterEventType.ASSET_MATERIALIZATION)
        }
        assert set(materialized) == {"walk_forward_study", "strategy_report"}
        metadata = materialized["walk_forward_study"].metadata
        assert metadata["strategy_version"].value == version
    settings = Settings(data_dir=Path(env["MAESTRO_DATA_DIR"]), symbols=("BTC/USD",))
    summary = StudyStore(settings.data_dir).read_summary(StudyKey("range_break", "BTC/USD", "1h"))
    assert summary["strategy_version"] == version
    assert summary["strategy_source"] == str(deployment["strategies"] / "range_break.py")

    monkeypatch.setenv("MAESTRO_STRATEGY_PATH", env["MAESTRO_STRATEGY_PATH"])
    app = create_app(settings, api_config(deployment["root"]))
    with TestClient(app) as client:
        listed = {s["name"]: s for s in client.get("/api/v2/strategies").json()}
        assert listed["range_break"]["source"] == summary["strategy_source"]
        assert listed["range_break"]["version"] == version
        assert "SyntaxError" in listed["broken_syntax"]["error"]
        study = client.get("/api/v2/optimization/range_break.BTC-USD.1h").json()
        assert study["strategy_version"] == study["strategy_current_version"] == version
        board = client.get("/api/v2/leaderboard").json()
        assert [(r["strategy"], r["strategy_version"]) for r in board["rows"]] == [
            ("range_break", version)
        ]


@pytest.mark.parametrize(("name", "check"), BIASED.items())
def test_a_biased_strategy_fails_the_blocking_check_and_is_never_studied(deployment, name, check):
    from dagster import DagsterEventType

    env = deployment["env"]
    partition = f"BTC/USD@1h|{name}"
    assert f"failed walk_forward_job {partition}" in " ".join(deployment["studies"].stdout.split())
    with _instance(env) as instance:
        [run] = _partition_runs(instance, partition)
        assert not run.is_success
        [evaluation] = [
            e.event_specific_data
            for e in _events(instance, run.run_id, DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
        assert evaluation.check_name == "strategy_passes_bias_checks" and not evaluation.passed
        offending = evaluation.metadata["first_offending_bar"].value
        assert offending["check"] == check and isinstance(offending["bar"], int)
        assert f"bar {offending['bar']} ({offending['time']})" in evaluation.description
        assert not _events(instance, run.run_id, DagsterEventType.ASSET_MATERIALIZATION)
        failure = _events(instance, run.run_id, DagsterEventType.STEP_FAILURE)[0]
        assert f"bar {offending['bar']}" in failure.event_specific_data.error_display_string
    progress = StudyStore(Path(env["MAESTRO_DATA_DIR"])).read_progress(
        StudyKey(name, "BTC/USD", "1h")
    )
    assert progress["status"] == "failed" and f"bar {offending['bar']}" in progress["error"]
    assert (
        StudyStore(Path(env["MAESTRO_DATA_DIR"])).read_summary(StudyKey(name, "BTC/USD", "1h"))
        is None
    )


def test_a_broken_file_leaves_the_code_location_working(deployment):
    env = deployment["env"]
    validated = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert "Validation successful" in validated.stdout + validated.stderr
    probe = _probe(env)
    assert len(probe["strategies"]) == 25  # the 22 built-ins and the three that load
    assert "broken_syntax" not in probe["strategies"]
    assert str(deployment["strategies"] / "broken.py") in probe["strategy_code_description"]


def test_editing_a_strategy_marks_its_study_stale_and_its_rerun_starts_afresh(deployment):
    env = deployment["env"]
    before = _probe(env, SOUND_PARTITION)
    assert before["stale"][SOUND_PARTITION] == {"status": "FRESH", "causes": []}
    assert SOUND_PARTITION not in before["schedule"]

    path = deployment["strategies"] / "range_break.py"
    path.write_text(path.read_text().replace("default=24", "default=30"))
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)
    after = _probe(env, SOUND_PARTITION)
    assert after["recorded"] == 1  # only the edited strategy has a new version
    assert after["stale"][SOUND_PARTITION] == {
        "status": "STALE",
        "causes": ["strategy_code[range_break]"],
    }
    assert SOUND_PARTITION in after["schedule"]

    store = StudyStore(Path(env["MAESTRO_DATA_DIR"]))
    key = StudyKey("range_break", "BTC/USD", "1h")
    old = store.read_summary(key)
    rerun = _maestro(
        env, "materialize", "--job", "walk_forward_job", "--partition", SOUND_PARTITION
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    new = store.read_summary(key)
    assert new["strategy_version"] != old["strategy_version"]
    # A new Optuna study: every trial was evaluated by this run, none resumed from the old code.
    assert new["n_evaluated_here"] == new["n_trials_total"] == 20
    assert _probe(env, SOUND_PARTITION)["stale"][SOUND_PARTITION]["status"] == "FRESH"
