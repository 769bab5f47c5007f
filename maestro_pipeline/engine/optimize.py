"""Batched Optuna optimization over any evaluator that scores many parameter sets at once.

The speed of a vectorbt study comes from evaluating a batch of parameter sets as the columns of
one backtest. ``optimize_batched`` therefore uses Optuna's ask-and-tell interface: it asks a
batch of trials, hands all their parameters to one ``evaluate`` call per pruning step, reports
each trial's intermediate value, drops the trials the pruner rejects, and tells Optuna the final
values of the survivors.

Storage is whatever SQLAlchemy URL the caller gives (a SQLite file for one machine, PostgreSQL
for many workers); a study with the same name in the same storage is resumed, so the budget
``n_trials`` counts trials finished by earlier, possibly killed, runs.

Several workers on one study (processes or machines sharing an RDB storage) spend the budget
exactly: each worker asks only for the trials nobody holds yet, and every asked trial claims a
place in the order of trial ids; a trial past ``n_trials`` is given back (told FAIL, marked
``surplus``) before it is evaluated or reported. Optuna's ``MaxTrialsCallback`` only stops a
worker after the fact, so concurrent workers overshoot with it. Trials of a worker that died
are found by their stale heartbeat and run again by the others.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState

# User attribute set on trials that finished as FAIL because ``evaluate`` returned a non-finite
# value (too few trades, empty equity ...). Such trials are real evaluations and use up budget;
# trials that FAILed because their process died do not carry it and are re-run.
INFEASIBLE_ATTR = "infeasible"
# User attribute of trials asked by one worker while others already held the rest of the
# budget; they are failed unevaluated and do not count.
SURPLUS_ATTR = "surplus"
# User attribute naming the process (host:pid) that evaluated a trial of a shared study.
WORKER_ATTR = "worker"
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

Suggest = Callable[[optuna.Trial], dict[str, Any]]
Evaluate = Callable[[list[dict[str, Any]], int], Any]


# ---------------------------------------------------------------------------------------------
# Opening (and resuming) a study


def open_study(
    storage: str | optuna.storages.BaseStorage | None,
    study_name: str,
    *,
    direction: Literal["maximize", "minimize"] = "maximize",
    seed: int | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    n_startup_trials: int = 10,
    heartbeat_interval: int | None = 30,
    grace_period: int | None = None,
    fail_running_trials: bool = False,
    sqlite_wal: bool = True,
) -> optuna.Study:
    """Create the study, or load it if ``study_name`` already exists in ``storage``.

    Args:
        storage: a SQLAlchemy URL (``sqlite:///path/study.db``,
            ``postgresql+psycopg://user@host/db``), a storage object built by the caller (for
            example ``optuna.storages.JournalStorage``, several times faster than SQLite but
            without heartbeats), or ``None`` to keep the study in memory. SQLite files are
            switched to write-ahead logging (see ``sqlite_wal``).
        study_name: the study's key in the storage; reusing it resumes the study.
        direction: ``"maximize"`` or ``"minimize"`` the evaluator's value.
        seed: seed of the default TPE sampler (multivariate, constant liar so that the trials
            of one batch spread out instead of all landing on the same point). A resumed study
            starts a fresh random stream, so it is reproducible but not identical to a run
            that was never interrupted.
        pruner: defaults to ``MedianPruner(n_startup_trials=5)``; see ``make_pruner``.
        sampler: overrides the default TPE sampler (``seed``/``n_startup_trials`` then unused).
        n_startup_trials: random trials before TPE starts modelling.
        heartbeat_interval: seconds between heartbeats of running trials (RDB storages only);
            ``None`` disables heartbeats. A RUNNING trial whose heartbeat is older than
            ``grace_period`` (default twice the interval) belonged to a dead process and is
            marked FAIL when a study is opened, so it does not count as finished.
        fail_running_trials: mark *every* RUNNING trial as FAIL on opening. Only correct when
            no other process works on this study (a re-executed single-worker run), where it
            frees the killed run's trials at once instead of after the grace period. It is
            also the only recovery for storages without heartbeats, and for a trial whose
            process died in the milliseconds between ``ask()`` and its first heartbeat.
        sqlite_wal: for SQLite URLs, use write-ahead logging with ``synchronous=NORMAL``:
            about a third less time per trial, still safe for several processes on one
            machine (not on a network file system). Committed trials survive a killed
            process; only an OS crash can lose the last commits.
    """
    if sampler is None:
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=n_startup_trials,
            multivariate=True,
            constant_liar=True,
        )
    if pruner is None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5)
    with warnings.catch_warnings():
        # Heartbeats have been "experimental" in Optuna since 2.9; they are used on purpose.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        backend: optuna.storages.BaseStorage | None = None
        if isinstance(storage, str):
            backend = _rdb_storage(storage, heartbeat_interval, grace_period, sqlite_wal)
        elif storage is not None:
            backend = storage
        study = optuna.create_study(
            storage=backend,
            sampler=sampler,
            pruner=pruner,
            study_name=study_name,
            direction=direction,
            load_if_exists=True,
        )
        recover_interrupted_trials(study, fail_all_running=fail_running_trials)
    return study


def _rdb_storage(
    url: str, heartbeat_interval: int | None, grace_period: int | None, sqlite_wal: bool
) -> optuna.storages.RDBStorage:
    rdb = optuna.storages.RDBStorage(
        url, heartbeat_interval=heartbeat_interval, grace_period=grace_period
    )
    if sqlite_wal and rdb.engine.dialect.name == "sqlite":
        sqlalchemy.event.listen(rdb.engine, "connect", _sqlite_wal_pragmas)
        # Connections opened while Optuna created its tables predate the listener.
        rdb.engine.dispose()
    return rdb


def _sqlite_wal_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def recover_interrupted_trials(study: optuna.Study, *, fail_all_running: bool = False) -> list[int]:
    """Mark trials left RUNNING by a dead process as FAIL; return their trial numbers.

    Without ``fail_all_running`` only trials whose heartbeat went stale are failed, which is
    safe while other workers are running. With it, every RUNNING trial is failed.
    """
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if fail_all_running:
        storage = study._storage  # Optuna exposes no public API to fail a trial by id.
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            # A trial may have been finished meanwhile by its own process.
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    # Compare against FAIL, not against "no longer RUNNING": another worker may have finished
    # some of these trials normally in the meantime.
    failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    return sorted(before & failed)


def make_pruner(
    kind: Literal["median", "hyperband", "none"], n_steps: int, n_startup_trials: int = 5
) -> optuna.pruners.BasePruner:
    """A pruner for ``n_steps`` cumulative in-sample sub-windows (steps 0 .. n_steps-1)."""
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=n_steps)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {kind!r}: expected 'median', 'hyperband' or 'none'")


def enqueue_params(study: optuna.Study, params_list: Sequence[dict[str, Any]]) -> None:
    """Queue known parameter sets (e.g. a strategy's defaults) to be the next trials asked.

    Sets already queued or evaluated in this study are skipped, so resuming does not repeat them.
    """
    for params in params_list:
        study.enqueue_trial(dict(params), skip_if_exists=True)


# ---------------------------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class BatchProgress:
    """Handed to the progress callback after every batch."""

    n_finished: int
    n_trials: int
    n_complete: int
    n_pruned: int
    n_infeasible: int
    best_value: float | None
    best_params: dict[str, Any] | None


@dataclass(frozen=True)
class OptimizationSummary:
    """Outcome of ``optimize_batched``.

    Counts cover the whole study (including trials finished by earlier runs); ``n_resumed`` is
    how many of them were already finished when this call started. Timings cover this call:
    ``sampling_seconds`` is asking trials and suggesting their parameters,
    ``evaluation_seconds`` the ``evaluate`` calls, ``storage_seconds`` reporting intermediate
    values, pruning decisions, telling results and counting trials (Optuna storage I/O).
    """

    best_params: dict[str, Any] | None
    best_value: float | None
    best_trial_number: int | None
    n_trials: int
    n_finished: int
    n_complete: int
    n_pruned: int
    n_infeasible: int
    n_resumed: int
    n_evaluated_here: int
    sampling_seconds: float
    evaluation_seconds: float
    storage_seconds: float
    total_seconds: float
    steps_evaluated: dict[int, int] = field(default_factory=dict)


def optimize_batched(
    study: optuna.Study,
    suggest: Suggest,
    evaluate: Evaluate,
    n_trials: int,
    batch_size: int = 32,
    n_steps: int = 1,
    *,
    progress: Callable[[BatchProgress], None] | None = None,
    show_progress_bar: bool = False,
    poll_seconds: float = 0.5,
) -> OptimizationSummary:
    """Optimize until the study holds ``n_trials`` finished trials.

    Args:
        study: from ``open_study``.
        suggest: draws one trial's parameters with ``trial.suggest_*`` and returns them as a
            dict (the dict is what ``evaluate`` receives; it may hold derived values).
        evaluate: ``evaluate(params_list, step)`` scores every parameter set of the list on
            pruning step ``step`` and returns one value per set (sequence or 1-D array). Step
            ``k`` should score the k-th cumulative in-sample sub-window (see
            ``splits.cumulative_subwindows``); the last step, ``n_steps - 1``, the whole
            in-sample window. A NaN or infinite value means infeasible (for example fewer
            trades than required): at an intermediate step the value is not reported and the
            trial goes on; at the last step the trial ends as FAIL with the user attribute
            ``infeasible``. Infeasible trials use up budget but can never be the best trial.
        n_trials: total budget of finished trials (COMPLETE, PRUNED or infeasible) in the
            study; trials finished by earlier runs count. With several workers on one study
            the total may overshoot by up to one batch per extra worker.
        batch_size: trials asked and evaluated together.
        n_steps: pruning steps; 1 disables pruning.
        progress: called after every batch.
        show_progress_bar: a tqdm bar on stderr.
        poll_seconds: how often a worker whose share is done looks at the others' trials.

    If ``evaluate`` raises, the trials of the current batch that are still running are told
    FAIL (without the infeasible mark, so a later run retries that budget) and the exception
    propagates.
    """
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")

    started = time.perf_counter()
    timer = _Timer()
    with timer.section("storage"):
        counts = _finished_counts(study)
    n_resumed = counts.finished
    n_evaluated_here = 0
    steps_evaluated: dict[int, int] = {}
    bar = _progress_bar(show_progress_bar, n_trials, counts.finished)

    shared = _has_heartbeats(study)
    with _Heartbeat(study) as heartbeat:
        while counts.finished < n_trials:
            # Trials RUNNING elsewhere are another worker's share of the budget (a dead
            # worker's come back once their heartbeat is stale).
            free = n_trials - counts.finished - (counts.running if shared else 0)
            if free <= 0:
                time.sleep(poll_seconds)
                with timer.section("storage"):
                    recover_interrupted_trials(study)
                    counts = _finished_counts(study)
                continue
            size = min(batch_size, free)
            with timer.section("sampling"):
                trials = _ask(study, size)
                heartbeat.track(trials)
            try:
                if shared:
                    with timer.section("storage"):
                        trials = _claim(study, trials, n_trials)
                with timer.section("sampling"):
                    params = [suggest(trial) for trial in trials]
                recheck = (lambda kept: _claim(study, kept, n_trials)) if shared else None
                _run_batch(
                    study, trials, params, evaluate, n_steps, timer, steps_evaluated, recheck
                )
            except BaseException:
                _fail_unfinished(study, trials)
                raise
            finally:
                heartbeat.untrack(trials)
            n_evaluated_here += len(trials)
            with timer.section("storage"):
                counts = _finished_counts(study)
                best = _best_trial(study)
            if bar is not None:
                bar.update(max(0, min(counts.finished, n_trials) - bar.n))
                if best is not None:
                    bar.set_postfix(best=f"{best.value:.4g}")
            if progress is not None:
                progress(
                    BatchProgress(
                        n_finished=counts.finished,
                        n_trials=n_trials,
                        n_complete=counts.complete,
                        n_pruned=counts.pruned,
                        n_infeasible=counts.infeasible,
                        best_value=None if best is None else best.value,
                        best_params=None if best is None else dict(best.params),
                    )
                )
    if bar is not None:
        bar.close()

    best = _best_trial(study)
    return OptimizationSummary(
        best_params=None if best is None else dict(best.params),
        best_value=None if best is None else best.value,
        best_trial_number=None if best is None else best.number,
        n_trials=n_trials,
        n_finished=counts.finished,
        n_complete=counts.complete,
        n_pruned=counts.pruned,
        n_infeasible=counts.infeasible,
        n_resumed=n_resumed,
        n_evaluated_here=n_evaluated_here,
        sampling_seconds=timer.seconds["sampling"],
        evaluation_seconds=timer.seconds["evaluation"],
        storage_seconds=timer.seconds["storage"],
        total_seconds=time.perf_counter() - started,
        steps_evaluated=steps_evaluated,
    )


def _run_batch(
    study: optuna.Study,
    trials: list[optuna.Trial],
    params: list[dict[str, Any]],
    evaluate: Evaluate,
    n_steps: int,
    timer: _Timer,
    steps_evaluated: dict[int, int],
    recheck: Callable[[list[optuna.Trial]], list[optuna.Trial]] | None = None,
) -> None:
    alive = list(range(len(trials)))
    for step in range(n_steps):
        with timer.section("evaluation"):
            raw = evaluate([params[i] for i in alive], step)
            values = np.asarray(raw, dtype=float).reshape(-1)
        if values.shape[0] != len(alive):
            raise ValueError(
                f"evaluate returned {values.shape[0]} values at step {step} for {len(alive)} "
                "parameter sets"
            )
        steps_evaluated[step] = steps_evaluated.get(step, 0) + len(alive)
        last_step = step == n_steps - 1
        survivors = []
        with timer.section("storage"):
            if step == 0 and recheck is not None:
                # A trial asked by another worker a moment earlier may have committed only
                # after this batch claimed its places: look again before reporting anything.
                kept = {id(t) for t in recheck([trials[i] for i in alive])}
                mask = np.array([id(trials[i]) in kept for i in alive], dtype=bool)
                alive = [i for i, keep in zip(alive, mask, strict=True) if keep]
                values = values[mask]
            for i, value in zip(alive, values, strict=True):
                trial = trials[i]
                if last_step:
                    _tell_final(study, trial, float(value), step)
                    continue
                if not math.isfinite(value):
                    # Early sub-windows may hold too few trades for a score; only the full
                    # in-sample window decides feasibility.
                    survivors.append(i)
                    continue
                trial.report(float(value), step)
                if trial.should_prune():
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    survivors.append(i)
        alive = survivors
        if not alive:
            return


def _tell_final(study: optuna.Study, trial: optuna.Trial, value: float, step: int) -> None:
    if math.isfinite(value):
        # Reporting the last step too lets dashboards and pruners see each trial's full curve.
        trial.report(value, step)
        study.tell(trial, value)
    else:
        trial.set_user_attr(INFEASIBLE_ATTR, repr(value))
        study.tell(trial, state=TrialState.FAIL)


def _ask(study: optuna.Study, size: int) -> list[optuna.Trial]:
    with warnings.catch_warnings():
        # Optuna warns that heartbeats are meant for Study.optimize; this module records them
        # itself for the asked trials (see _Heartbeat).
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return [study.ask() for _ in range(size)]


def _claim(study: optuna.Study, trials: list[optuna.Trial], n_trials: int) -> list[optuna.Trial]:
    """Keep the trials whose place among the budget-counting trials is within ``n_trials``.

    Places follow trial ids (the storage's sequence; Optuna's trial numbers can repeat under
    concurrent inserts). The rest are told FAIL, marked ``surplus``, and dropped.
    """
    counting = sorted(
        t._trial_id
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.RUNNING or _counts_toward_budget(t)
    )
    place = {trial_id: i + 1 for i, trial_id in enumerate(counting)}
    kept = []
    for trial in trials:
        if place.get(trial._trial_id, n_trials + 1) <= n_trials:
            kept.append(trial)
            if WORKER_ATTR not in trial.user_attrs:
                trial.set_user_attr(WORKER_ATTR, WORKER_ID)
        else:
            trial.set_user_attr(SURPLUS_ATTR, True)
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
    return kept


def _counts_toward_budget(trial: FrozenTrial) -> bool:
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and INFEASIBLE_ATTR in trial.user_attrs


def _has_heartbeats(study: optuna.Study) -> bool:
    """Whether the study lives in a storage that records heartbeats (RDB with an interval)."""
    interval = getattr(study._storage, "get_heartbeat_interval", lambda: None)()
    return bool(interval)


def _fail_unfinished(study: optuna.Study, trials: list[optuna.Trial]) -> None:
    for trial in trials:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


@dataclass(frozen=True)
class _Counts:
    complete: int
    pruned: int
    infeasible: int
    running: int

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.infeasible


def _finished_counts(study: optuna.Study) -> _Counts:
    trials = study.get_trials(
        deepcopy=False,
        states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING),
    )
    states = Counter(t.state for t in trials)
    infeasible = sum(t.state == TrialState.FAIL and INFEASIBLE_ATTR in t.user_attrs for t in trials)
    return _Counts(
        complete=states[TrialState.COMPLETE],
        pruned=states[TrialState.PRUNED],
        infeasible=infeasible,
        running=states[TrialState.RUNNING],
    )


def _best_trial(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # No COMPLETE trial yet.
        return None


class _Timer:
    def __init__(self) -> None:
        self.seconds = {"sampling": 0.0, "evaluation": 0.0, "storage": 0.0}

    def section(self, name: str) -> _TimedSection:
        return _TimedSection(self, name)


class _TimedSection:
    def __init__(self, timer: _Timer, name: str) -> None:
        self._timer = timer
        self._name = name
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._timer.seconds[self._name] += time.perf_counter() - self._start


class _Heartbeat:
    """Records heartbeats for the running trials of a batch from one background thread.

    Optuna only beats for trials run by ``Study.optimize``; trials asked through ask-and-tell
    need their own beat, or a process killed mid-batch would leave RUNNING trials that are
    never detected as stale. Does nothing when the storage has heartbeats disabled.
    """

    def __init__(self, study: optuna.Study) -> None:
        # Heartbeat recording has no public per-trial API.
        self._storage = study._storage if _has_heartbeats(study) else None
        self._interval = self._storage.get_heartbeat_interval() if self._storage else None
        self._trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        if self._storage is not None:
            self._thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def track(self, trials: list[optuna.Trial]) -> None:
        if self._storage is None:
            return
        ids = [trial._trial_id for trial in trials]
        with self._lock:
            self._trial_ids.update(ids)
        for trial_id in ids:  # Beat at once so a kill before the first interval is detectable.
            self._storage.record_heartbeat(trial_id)

    def untrack(self, trials: list[optuna.Trial]) -> None:
        with self._lock:
            self._trial_ids.difference_update(trial._trial_id for trial in trials)

    def _beat(self) -> None:
        assert self._interval is not None and self._storage is not None
        while not self._stop.wait(self._interval):
            with self._lock:
                ids = list(self._trial_ids)
            for trial_id in ids:
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception:  # A trial finished meanwhile, or a transient DB error.
                    continue


def _progress_bar(enabled: bool, total: int, initial: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=min(initial, total), unit="trial", desc="optimize")
