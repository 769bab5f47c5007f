"""Batched Optuna optimization on real SQLite storage: budget, pruning, seeds, resume after kill."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from maestro_pipeline.engine.walk_forward.batched import (
    INFEASIBLE_ATTR,
    enqueue_params,
    make_pruner,
)
from maestro_pipeline.optimization.coordination import optimize_batched
from maestro_pipeline.optimization.studies import open_study, recover_interrupted_trials
from tests.support.processes import COMMAND_SECONDS, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def suggest_x(trial: optuna.Trial) -> dict:
    return {"x": trial.suggest_float("x", -10.0, 10.0)}


def quadratic(params_list: list[dict], step: int) -> np.ndarray:
    """Peak 0 at x = 3, the same on every step: bad x is obvious from the first step."""
    return np.array([-((p["x"] - 3.0) ** 2) for p in params_list])


def sqlite_url(tmp_path: Path, name: str = "study.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_toy_quadratic_peak_is_found(tmp_path):
    study = open_study(sqlite_url(tmp_path), "quadratic", seed=1)
    summary = optimize_batched(study, suggest_x, quadratic, n_trials=60, batch_size=10)
    assert summary.best_params is not None
    assert summary.best_params["x"] == pytest.approx(3.0, abs=0.5)
    assert summary.best_value == pytest.approx(-((summary.best_params["x"] - 3) ** 2))
    assert summary.n_complete == 60 and summary.n_finished == 60
    assert summary.evaluation_seconds >= 0 and summary.sampling_seconds > 0
    assert summary.total_seconds >= summary.sampling_seconds + summary.evaluation_seconds


def test_budget_is_met_exactly_when_batches_do_not_divide_it(tmp_path):
    calls = []

    def evaluate(params_list, step):
        calls.append(len(params_list))
        return quadratic(params_list, step)

    study = open_study(sqlite_url(tmp_path), "budget", seed=2)
    seen = []
    summary = optimize_batched(
        study, suggest_x, evaluate, n_trials=25, batch_size=10, progress=seen.append
    )
    assert calls == [10, 10, 5]
    assert [p.n_finished for p in seen] == [10, 20, 25]
    assert seen[-1].best_value == summary.best_value
    assert len(study.get_trials()) == 25
    assert summary.n_finished == 25 and summary.n_resumed == 0
    # Asking for the same budget again evaluates nothing more.
    again = optimize_batched(study, suggest_x, evaluate, n_trials=25, batch_size=10)
    assert again.n_evaluated_here == 0 and again.n_resumed == 25
    assert len(study.get_trials()) == 25


def test_same_seed_gives_the_same_trials_and_best(tmp_path):
    def run(name: str, seed: int):
        study = open_study(sqlite_url(tmp_path, f"{name}.db"), name, seed=seed)
        summary = optimize_batched(
            study, suggest_x, quadratic, n_trials=30, batch_size=6, n_steps=3
        )
        return summary, [t.params for t in study.get_trials()]

    first, first_params = run("a", seed=7)
    second, second_params = run("b", seed=7)
    _, other_params = run("c", seed=8)
    assert first.best_params == second.best_params
    assert first_params == second_params
    assert other_params != first_params


def test_pruning_stops_obviously_bad_trials_early(tmp_path):
    study = open_study(
        sqlite_url(tmp_path), "pruning", seed=3, pruner=make_pruner("median", n_steps=4)
    )
    summary = optimize_batched(study, suggest_x, quadratic, n_trials=64, batch_size=8, n_steps=4)
    assert summary.n_finished == 64
    assert summary.n_pruned > 10
    assert summary.n_complete + summary.n_pruned == 64
    assert summary.steps_evaluated[0] == 64
    assert summary.steps_evaluated[3] == summary.n_complete
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert all(max(t.intermediate_values) < 3 for t in pruned)
    assert np.mean([abs(t.params["x"] - 3) for t in pruned]) > np.mean(
        [abs(t.params["x"] - 3) for t in complete]
    )
    assert summary.best_params["x"] == pytest.approx(3.0, abs=0.5)


def test_hyperband_pruner_works_with_batches(tmp_path):
    study = open_study(None, "hyperband", seed=4, pruner=make_pruner("hyperband", n_steps=9))
    summary = optimize_batched(study, suggest_x, quadratic, n_trials=60, batch_size=12, n_steps=9)
    assert summary.n_finished == 60
    assert summary.n_pruned > 0


def test_non_finite_values_are_infeasible_never_best_and_never_crash(tmp_path):
    def evaluate(params_list, step):
        values = quadratic(params_list, step)
        # Negative x: no trades at all. Early steps of x in [0, 2): too few trades yet.
        values[[p["x"] < 0 for p in params_list]] = np.nan
        if step < 2:
            values[[0 <= p["x"] < 2 for p in params_list]] = np.inf
        return values

    study = open_study(
        sqlite_url(tmp_path), "infeasible", seed=5, pruner=make_pruner("median", n_steps=3)
    )
    summary = optimize_batched(study, suggest_x, evaluate, n_trials=40, batch_size=8, n_steps=3)
    assert summary.n_finished == 40
    assert summary.n_infeasible > 0
    assert summary.n_complete + summary.n_pruned + summary.n_infeasible == 40
    assert math.isfinite(summary.best_value) and summary.best_params["x"] >= 0
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == summary.n_infeasible
    assert all(t.params["x"] < 0 and INFEASIBLE_ATTR in t.user_attrs for t in failed)


def test_a_failing_evaluator_fails_its_batch_and_the_budget_is_retried(tmp_path):
    url = sqlite_url(tmp_path)
    calls = {"n": 0}

    def flaky(params_list, step):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("backtest crashed")
        return quadratic(params_list, step)

    study = open_study(url, "flaky", seed=6)
    with pytest.raises(RuntimeError, match="backtest crashed"):
        optimize_batched(study, suggest_x, flaky, n_trials=20, batch_size=5)
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE] * 5 + [TrialState.FAIL] * 5
    summary = optimize_batched(open_study(url, "flaky", seed=6), suggest_x, flaky, 20, 5)
    assert summary.n_complete == 20 and summary.n_resumed == 5
    assert len(study.get_trials()) == 25


def test_enqueued_params_are_tried_first_and_once(tmp_path):
    url = sqlite_url(tmp_path)
    study = open_study(url, "enqueue", seed=9)
    enqueue_params(study, [{"x": 3.0}])
    optimize_batched(study, suggest_x, quadratic, n_trials=5, batch_size=5)
    assert study.trials[0].params == {"x": 3.0}
    assert study.best_value == 0.0
    resumed = open_study(url, "enqueue", seed=9)
    enqueue_params(resumed, [{"x": 3.0}])
    optimize_batched(resumed, suggest_x, quadratic, n_trials=10, batch_size=5)
    assert sum(t.params == {"x": 3.0} for t in resumed.trials) == 1


def test_fail_running_trials_frees_an_abandoned_trial_at_once(tmp_path):
    url = sqlite_url(tmp_path)
    study = open_study(url, "abandoned", seed=10, heartbeat_interval=None)
    abandoned = study.ask()
    abandoned.suggest_float("x", -10, 10)
    assert recover_interrupted_trials(study) == []  # no heartbeat: not provably stale
    reopened = open_study(url, "abandoned", seed=10, fail_running_trials=True)
    assert reopened.trials[0].state == TrialState.FAIL
    assert recover_interrupted_trials(reopened, fail_all_running=True) == []
    summary = optimize_batched(reopened, suggest_x, quadratic, n_trials=4, batch_size=4)
    assert summary.n_finished == 4 and len(reopened.trials) == 5


KILLED_WORKER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from maestro_pipeline.optimization.coordination import optimize_batched
    from maestro_pipeline.optimization.studies import open_study

    def suggest(trial):
        return {"x": trial.suggest_float("x", -10.0, 10.0)}

    def slow_quadratic(params_list, step):
        time.sleep(0.05)
        return np.array([-((p["x"] - 3.0) ** 2) for p in params_list])

    study = open_study(sys.argv[1], "resume", seed=11, heartbeat_interval=1)
    optimize_batched(study, suggest, slow_quadratic, n_trials=40, batch_size=4, n_steps=2)
    """
)


def test_resume_after_the_worker_was_killed(tmp_path):
    url = sqlite_url(tmp_path)
    script = tmp_path / "worker.py"
    script.write_text(KILLED_WORKER)
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, str(script), url],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stderr=sink,
        )
    storage = optuna.storages.RDBStorage(url)

    def frozen_while_evaluating() -> bool:
        """Freeze the worker; keep it frozen (to be killed) if it is inside an evaluate call
        (a trial that reported step 0 and runs step 1) after 12 finished trials, where a
        worker spends nearly all its time. A kill in the few milliseconds between ask() and
        the trial's first heartbeat leaves a trial no heartbeat check can see; that case needs
        open_study(fail_running_trials=True), tested separately."""
        worker.send_signal(signal.SIGSTOP)
        ready = False
        try:
            trials = _trials_or_empty(storage)
            finished = [t for t in trials if t.state.is_finished()]
            evaluating = [
                t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values
            ]
            ready = len(finished) >= 12 and bool(evaluating)
        finally:
            if not ready:
                worker.send_signal(signal.SIGCONT)
        return ready

    try:
        wait_until(
            frozen_while_evaluating,
            "the worker never evaluated a trial after 12 finished ones",
            timeout=COMMAND_SECONDS,
            process=worker,
            log=log,
            interval=0.02,
        )
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait()

    before = {t.number: t for t in _trials_or_empty(storage)}
    done_before = {n: (t.state, t.value) for n, t in before.items() if t.state.is_finished()}
    running_before = sorted(n for n, t in before.items() if t.state == TrialState.RUNNING)
    assert running_before and len(done_before) >= 12

    # Heartbeats every second. SQLite stores them with whole seconds, so after 2.1 s the
    # recorded age is at least 2 s, beyond a grace period of 1 s.
    time.sleep(2.1)
    study = open_study(url, "resume", seed=11, heartbeat_interval=1, grace_period=1)
    assert [t.number for t in study.get_trials(states=(TrialState.RUNNING,))] == []
    assert recover_interrupted_trials(study) == []  # already recovered by open_study
    failed_on_open = sorted(
        t.number for t in study.get_trials(states=(TrialState.FAIL,)) if t.number in before
    )
    assert failed_on_open == running_before

    summary = optimize_batched(study, suggest_x, quadratic, n_trials=40, batch_size=4, n_steps=2)
    assert summary.n_resumed == len(done_before)
    assert summary.n_finished == 40
    after = {t.number: t for t in study.get_trials()}
    assert {n: (after[n].state, after[n].value) for n in done_before} == done_before
    finished_now = [
        t for t in after.values() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
    ]
    assert len(finished_now) == 40
    assert not study.get_trials(states=(TrialState.RUNNING,))


def _trials_or_empty(storage: optuna.storages.RDBStorage) -> list[optuna.trial.FrozenTrial]:
    try:
        study_id = storage.get_study_id_from_name("resume")
    except KeyError:
        return []  # the worker has not created the study yet
    return storage.get_all_trials(study_id, deepcopy=False)


def test_sqlite_storage_uses_write_ahead_logging(tmp_path):
    open_study(sqlite_url(tmp_path), "wal")
    with sqlite3.connect(tmp_path / "study.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_journal_storage_built_by_the_caller_resumes(tmp_path):
    def journal():
        backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.log"))
        return optuna.storages.JournalStorage(backend)

    first = optimize_batched(open_study(journal(), "j", seed=12), suggest_x, quadratic, 12, 4)
    resumed = optimize_batched(open_study(journal(), "j", seed=12), suggest_x, quadratic, 20, 4)
    assert first.n_finished == 12
    assert resumed.n_resumed == 12 and resumed.n_finished == 20
