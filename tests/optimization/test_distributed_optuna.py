"""Walk-forward studies shared by several worker processes on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import orjson
import polars as pl
import pytest
from optuna.trial import TrialState

from maestro_pipeline.engine.walk_forward.batched import INFEASIBLE_ATTR
from maestro_pipeline.optimization.coordination import SURPLUS_ATTR, WORKER_ATTR
from maestro_pipeline.optimization.runs import DONE_ATTR, FOLD_STUDY_ATTR
from maestro_pipeline.sources.sample import SAMPLE_FILES
from tests.support.servers import ServerUnavailable, postgres_server

REPO_ROOT = Path(__file__).resolve().parents[2]
SPLITS, TRIALS = 2, 60


@pytest.fixture(scope="module")
def postgres_url():
    try:
        with postgres_server() as url:
            yield url
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def bars_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bars") / "btc_30m.parquet"
    pl.read_parquet(SAMPLE_FILES["BTC/USD"]).tail(2 * 24 * 150).write_parquet(path)
    return path


def _maestro(*args: str, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "maestro_pipeline.cli", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def _start_worker(storage: str) -> subprocess.Popen:
    """A `maestro worker`, returned once it is looking for studies (its imports are done)."""
    worker = _maestro("worker", "--storage", storage, "--heartbeat", "1", "--idle-timeout",
                      "300", "--poll", "0.2", stderr=subprocess.PIPE)  # fmt: skip
    line = worker.stderr.readline().decode()
    assert "looking for open studies" in line, line
    return worker


def _walk_forward(bars: Path, storage: str, *extra: str) -> subprocess.Popen:
    return _maestro("walk-forward", "--strategy", "ema_cross", "--data", str(bars),
                    "--timeframe", "1h", "--splits", str(SPLITS), "--trials", str(TRIALS),
                    "--batch-size", "4", "--storage", storage, "--heartbeat", "1", "--json",
                    *extra)  # fmt: skip


def _stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(timeout=30)


def _fold_studies(storage: str, prefix: str = "ema_cross:") -> list[optuna.Study]:
    summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    return [
        optuna.load_study(study_name=s.study_name, storage=storage)
        for s in summaries
        if s.study_name.startswith(prefix) and FOLD_STUDY_ATTR in s.user_attrs
    ]


def _counted(trials: list[optuna.trial.FrozenTrial]) -> int:
    return sum(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and INFEASIBLE_ATTR in t.user_attrs)
        for t in trials
    )


def _reset(storage: str) -> None:
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        optuna.delete_study(study_name=summary.study_name, storage=storage)


def test_workers_share_each_fold_and_spend_the_budget_exactly(postgres_url, bars_file):
    _reset(postgres_url)
    workers = [_start_worker(postgres_url) for _ in range(2)]
    try:
        run = _walk_forward(bars_file, postgres_url)
        out, _ = run.communicate(timeout=600)
    finally:
        _stop(*workers)
    assert run.returncode == 0
    report = orjson.loads(out)

    studies = _fold_studies(postgres_url)
    assert len(studies) == SPLITS
    seen_workers: Counter[str] = Counter()
    for study in studies:
        trials = study.get_trials(deepcopy=False)
        assert _counted(trials) == TRIALS, study.study_name
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        assert study.user_attrs.get(DONE_ATTR) is True
        ids = [t._trial_id for t in trials]
        assert len(ids) == len(set(ids))
        seen_workers.update(t.user_attrs[WORKER_ATTR] for t in trials if _counted([t]))
    # The command and both workers evaluated trials.
    assert len(seen_workers) == 3, seen_workers
    for fold in report["folds"]:
        assert fold["n_complete"] + fold["n_pruned"] + fold["n_infeasible"] == TRIALS
    assert report["n_evaluated_here"] < SPLITS * TRIALS


def test_a_killed_worker_loses_nothing_and_the_study_resumes(postgres_url, bars_file):
    _reset(postgres_url)
    victim, survivor = _start_worker(postgres_url), _start_worker(postgres_url)
    run = _walk_forward(bars_file, postgres_url)
    try:
        deadline = time.monotonic() + 300
        victim_id = None
        while time.monotonic() < deadline and victim_id is None:
            # Freeze the worker, and kill it only if it holds RUNNING trials at that moment.
            victim.send_signal(signal.SIGSTOP)
            held = [t for study in _fold_studies(postgres_url)
                    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                    if t.user_attrs.get(WORKER_ATTR, "").endswith(f":{victim.pid}")]  # fmt: skip
            if held:
                victim_id = held[0].user_attrs[WORKER_ATTR]
                victim.send_signal(signal.SIGKILL)
            else:
                victim.send_signal(signal.SIGCONT)
                time.sleep(0.05)
        assert victim_id is not None, "the worker never ran a trial"
        victim.wait(timeout=30)
        out, _ = run.communicate(timeout=600)
    finally:
        _stop(victim, survivor, run)
    assert run.returncode == 0
    first = orjson.loads(out)

    studies = _fold_studies(postgres_url)
    lost = 0
    for study in studies:
        trials = study.get_trials(deepcopy=False)
        assert _counted(trials) == TRIALS
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        # The victim's unfinished trials were failed by the others and run again.
        lost += sum(
            t.state == TrialState.FAIL
            and t.user_attrs.get(WORKER_ATTR) == victim_id
            and INFEASIBLE_ATTR not in t.user_attrs
            and SURPLUS_ATTR not in t.user_attrs
            for t in trials
        )
    assert lost > 0

    # Resuming finds every fold complete: nothing is evaluated again, the result is the same.
    again = _walk_forward(bars_file, postgres_url)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0
    second = orjson.loads(out)
    assert second["n_evaluated_here"] == 0
    assert [f["best_params"] for f in second["folds"]] == [f["best_params"] for f in first["folds"]]
    assert second["oos"]["sharpe_ratio"] == pytest.approx(first["oos"]["sharpe_ratio"])
