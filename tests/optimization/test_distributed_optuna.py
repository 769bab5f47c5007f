"""Walk-forward studies shared by several worker processes on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import optuna
import orjson
import polars as pl
import pytest
from optuna.trial import FrozenTrial, TrialState

from maestro_pipeline.engine.walk_forward.batched import INFEASIBLE_ATTR
from maestro_pipeline.optimization.coordination import SURPLUS_ATTR, WORKER_ATTR
from maestro_pipeline.optimization.runs import DONE_ATTR, FOLD_STUDY_ATTR
from maestro_pipeline.sources.sample import SAMPLE_FILES
from tests.support.processes import COMMAND_SECONDS, stop, wait_for_line, wait_until
from tests.support.servers import ServerUnavailable, postgres_server

REPO_ROOT = Path(__file__).resolve().parents[2]
SPLITS, TRIALS = 2, 60
READY = "looking for open studies"  # what `maestro worker` says once it can join a study


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


class Started(NamedTuple):
    """A process and the file its stderr goes to."""

    process: subprocess.Popen
    log: Path


def _maestro(log: Path, *args: str, stdout: int = subprocess.DEVNULL) -> Started:
    with log.open("wb") as sink:  # A file, not a pipe: nobody has to keep reading it.
        process = subprocess.Popen(
            [sys.executable, "-m", "maestro_pipeline.cli", *args],
            cwd=REPO_ROOT,
            stdout=stdout,
            stderr=sink,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    return Started(process, log)


def _start_workers(storage: str, logs: Path, count: int, heartbeat: int) -> list[Started]:
    """`maestro worker`s, returned once each is looking for studies: imports done, storage
    answering. All start at once; each is then waited for."""
    args = ["worker", "--storage", storage, "--heartbeat", str(heartbeat),
            "--idle-timeout", "900", "--poll", "0.2"]  # fmt: skip
    workers = [_maestro(logs / f"worker-{index}.log", *args) for index in range(count)]
    for worker in workers:
        wait_for_line(worker.log, READY, worker.process)
    return workers


def _walk_forward(log: Path, bars: Path, storage: str, heartbeat: int) -> Started:
    return _maestro(log, "walk-forward", "--strategy", "ema_cross", "--data", str(bars),
                    "--timeframe", "1h", "--splits", str(SPLITS), "--trials", str(TRIALS),
                    "--batch-size", "4", "--storage", storage, "--heartbeat", str(heartbeat),
                    "--json", stdout=subprocess.PIPE)  # fmt: skip


def _report(run: Started) -> dict:
    out, _ = run.process.communicate(timeout=COMMAND_SECONDS)
    assert run.process.returncode == 0, run.log.read_text(errors="replace")[-3000:]
    return orjson.loads(out)


def _stop(*started: Started) -> list[int]:
    return [stop(s.process) for s in started]


def _held_by(storage: optuna.storages.BaseStorage, pid: int) -> list[FrozenTrial]:
    """The RUNNING trials the worker with process id ``pid`` holds."""
    return [t for study in _fold_studies(storage)
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.user_attrs.get(WORKER_ATTR, "").endswith(f":{pid}")]  # fmt: skip


def _freeze_while_holding(
    storage: optuna.storages.BaseStorage, worker: Started, run: Started
) -> list[FrozenTrial]:
    """Freeze ``worker`` (SIGSTOP) at a moment it holds RUNNING trials; return them.

    Fails if ``run`` ends before the worker ever held a trial.
    """

    def frozen_holding() -> list[FrozenTrial]:
        worker.process.send_signal(signal.SIGSTOP)
        held: list[FrozenTrial] = []
        try:
            held = _held_by(storage, worker.process.pid)
        finally:
            if not held:
                worker.process.send_signal(signal.SIGCONT)
        return held

    return wait_until(
        frozen_holding,
        "the worker never held a running trial while the study ran",
        timeout=COMMAND_SECONDS,
        process=run.process,
        log=run.log,
        interval=0.05,
    )


def _fold_studies(
    storage: optuna.storages.BaseStorage, prefix: str = "ema_cross:"
) -> list[optuna.Study]:
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


def _reset(storage: optuna.storages.BaseStorage) -> None:
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        optuna.delete_study(study_name=summary.study_name, storage=storage)


def test_workers_share_each_fold_and_spend_the_budget_exactly(postgres_url, bars_file, tmp_path):
    storage = optuna.storages.RDBStorage(postgres_url)
    _reset(storage)
    # Both workers are ready before the study exists: each joins it as soon as it appears.
    workers = _start_workers(postgres_url, tmp_path, 2, heartbeat=3)
    run = _walk_forward(tmp_path / "run.log", bars_file, postgres_url, heartbeat=3)
    try:
        report = _report(run)
    finally:
        codes = _stop(run, *workers)
    # Asked to stop while idle, each worker says so and exits cleanly.
    assert codes[1:] == [0, 0], [w.log.read_text() for w in workers]
    assert all("stopped (SIGTERM)" in w.log.read_text() for w in workers)

    studies = _fold_studies(storage)
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


def test_a_worker_asked_to_stop_mid_batch_tells_its_trials_first(postgres_url, bars_file, tmp_path):
    storage = optuna.storages.RDBStorage(postgres_url)
    _reset(storage)
    (worker,) = _start_workers(postgres_url, tmp_path, 1, heartbeat=3)
    run = _walk_forward(tmp_path / "run.log", bars_file, postgres_url, heartbeat=3)
    try:
        # SIGTERM reaches the worker while it holds trials: it is frozen, and resumed by stop().
        held = _freeze_while_holding(storage, worker, run)
        code = stop(worker.process)
        after = {t._trial_id: t for study in _fold_studies(storage) for t in study.get_trials()}
        report = _report(run)
    finally:
        _stop(run, worker)
    assert code == 0, worker.log.read_text()
    assert "stopped (SIGTERM)" in worker.log.read_text()
    # At once, not after a heartbeat's grace period: the batch was evaluated and told (a trial
    # another worker's claim overtook is given back, as in any batch).
    for trial in held:
        now = after[trial._trial_id]
        assert _counted([now]) or SURPLUS_ATTR in now.user_attrs, (now.number, now.state)
    assert not _held_by(storage, worker.process.pid)
    for fold in report["folds"]:
        assert fold["n_complete"] + fold["n_pruned"] + fold["n_infeasible"] == TRIALS
    for study in _fold_studies(storage):
        assert _counted(study.get_trials(deepcopy=False)) == TRIALS


def test_a_killed_worker_loses_nothing_and_the_study_resumes(postgres_url, bars_file, tmp_path):
    storage = optuna.storages.RDBStorage(postgres_url)
    _reset(storage)
    # The victim is ready before the study exists, so it works on it from the first batches.
    victim, survivor = _start_workers(postgres_url, tmp_path, 2, heartbeat=2)
    run = _walk_forward(tmp_path / "run.log", bars_file, postgres_url, heartbeat=2)
    try:
        held = _freeze_while_holding(storage, victim, run)
        victim_id = held[0].user_attrs[WORKER_ATTR]
        victim.process.send_signal(signal.SIGKILL)
        first = _report(run)
    finally:
        _stop(victim, survivor, run)

    studies = _fold_studies(storage)
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
    second = _report(_walk_forward(tmp_path / "again.log", bars_file, postgres_url, heartbeat=2))
    assert second["n_evaluated_here"] == 0
    assert [f["best_params"] for f in second["folds"]] == [f["best_params"] for f in first["folds"]]
    assert second["oos"]["sharpe_ratio"] == pytest.approx(first["oos"]["sharpe_ratio"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_worker_asked_to_stop_while_it_starts_stops_there(tmp_path, signum):
    # A "server" that accepts connections and never answers: the worker cannot get past
    # connecting to its storage, so the request to stop always finds it starting.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        worker = _maestro(tmp_path / "worker.log", "worker", "--storage",
                          f"postgresql+psycopg://maestro@127.0.0.1:{port}/optuna")  # fmt: skip
        try:
            wait_for_line(worker.log, "starting", worker.process)
            code = stop(worker.process, signum=signum)
        finally:
            stop(worker.process, signum=signal.SIGKILL)
    output = worker.log.read_text()
    assert code == 0, output
    assert f"stopped ({signal.Signals(signum).name})" in output
    assert READY not in output and "Traceback" not in output
