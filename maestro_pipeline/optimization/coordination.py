"""Several workers on one study: exact budgets, heartbeats, and waiting for the others.

Workers (processes or machines sharing an RDB storage) spend a study's budget exactly: each
asks only for the trials nobody holds yet, and every asked trial claims a place in the order
of trial ids; a trial past ``n_trials`` is given back (told FAIL, marked ``surplus``) before it
is evaluated or reported. Optuna's ``MaxTrialsCallback`` only stops a worker after the fact, so
concurrent workers overshoot with it. Trials of a worker that died are found by their stale
heartbeat and run again by the others.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import optuna
from optuna.trial import TrialState

from maestro_pipeline.engine.walk_forward.batched import (
    BatchProgress,
    Evaluate,
    OptimizationSummary,
    Suggest,
    TrialCoordinator,
    TrialCounts,
    counts_toward_budget,
)
from maestro_pipeline.engine.walk_forward.batched import optimize_batched as _optimize
from maestro_pipeline.optimization.stopping import stop_if_asked
from maestro_pipeline.optimization.studies import recover_interrupted_trials

# User attribute of trials asked by one worker while others already held the rest of the
# budget; they are failed unevaluated and do not count.
SURPLUS_ATTR = "surplus"
# User attribute naming the process (host:pid) that evaluated a trial of a shared study.
WORKER_ATTR = "worker"


@cache
def worker_id() -> str:
    """This process as other workers see it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def has_heartbeats(study: optuna.Study) -> bool:
    """Whether the study lives in a storage that records heartbeats (RDB with an interval)."""
    interval = getattr(study._storage, "get_heartbeat_interval", lambda: None)()
    return bool(interval)


class SharedCoordinator(TrialCoordinator):
    """Spends a study's budget together with the other workers on the same storage.

    Records heartbeats for the running trials of a batch from one background thread: Optuna
    only beats for trials run by ``Study.optimize``, and trials asked through ask-and-tell
    need their own beat, or a process killed mid-batch would leave RUNNING trials that are
    never detected as stale.

    ``should_stop`` is asked before every batch, when this worker holds no trial: once it says
    so, ``free`` raises ``stopping.WorkerStopped`` instead of letting another batch start.
    """

    shared = True

    def __init__(
        self,
        study: optuna.Study,
        poll_seconds: float = 0.5,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        # Heartbeat recording has no public per-trial API.
        self._storage: Any = study._storage
        self._interval = self._storage.get_heartbeat_interval()
        self._poll_seconds = poll_seconds
        self._should_stop = should_stop
        self._trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SharedCoordinator:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def free(self, counts: TrialCounts, n_trials: int) -> int:
        # Called before each batch (and after each wait), when every trial of ours is told.
        stop_if_asked(self._should_stop)
        # Trials RUNNING elsewhere are another worker's share of the budget (a dead worker's
        # come back once their heartbeat is stale).
        return n_trials - counts.finished - counts.running

    def wait(self, study: optuna.Study) -> None:
        time.sleep(self._poll_seconds)
        recover_interrupted_trials(study)

    def claim(
        self, study: optuna.Study, trials: list[optuna.Trial], n_trials: int
    ) -> list[optuna.Trial]:
        """Keep the trials whose place among the budget-counting trials is within ``n_trials``.

        Places follow trial ids (the storage's sequence; Optuna's trial numbers can repeat
        under concurrent inserts). The rest are told FAIL, marked ``surplus``, and dropped.
        """
        counting = sorted(
            t._trial_id
            for t in study.get_trials(deepcopy=False)
            if t.state == TrialState.RUNNING or counts_toward_budget(t)
        )
        place = {trial_id: i + 1 for i, trial_id in enumerate(counting)}
        kept = []
        for trial in trials:
            if place.get(trial._trial_id, n_trials + 1) <= n_trials:
                kept.append(trial)
                if WORKER_ATTR not in trial.user_attrs:
                    trial.set_user_attr(WORKER_ATTR, worker_id())
            else:
                trial.set_user_attr(SURPLUS_ATTR, True)
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return kept

    def track(self, trials: list[optuna.Trial]) -> None:
        ids = [trial._trial_id for trial in trials]
        with self._lock:
            self._trial_ids.update(ids)
        for trial_id in ids:  # Beat at once so a kill before the first interval is detectable.
            self._storage.record_heartbeat(trial_id)

    def untrack(self, trials: list[optuna.Trial]) -> None:
        with self._lock:
            self._trial_ids.difference_update(trial._trial_id for trial in trials)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                ids = list(self._trial_ids)
            for trial_id in ids:
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception:  # A trial finished meanwhile, or a transient DB error.
                    continue


def coordinator_for(
    study: optuna.Study, should_stop: Callable[[], bool] | None = None
) -> TrialCoordinator:
    """Shared when the study's storage records heartbeats (a database), exclusive otherwise."""
    if has_heartbeats(study):
        return SharedCoordinator(study, should_stop=should_stop)
    return TrialCoordinator()


def optimize_batched(
    study: optuna.Study,
    suggest: Suggest,
    evaluate: Evaluate,
    n_trials: int,
    batch_size: int = 32,
    n_steps: int = 1,
    *,
    progress: Callable[[BatchProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> OptimizationSummary:
    """The engine's batched loop on a stored study, shared with other workers on a database.

    See ``engine.walk_forward.batched.optimize_batched``; on an RDB storage with heartbeats the
    budget is spent exactly across every worker on the study, and ``should_stop`` (asked before
    each batch) ends the loop with ``stopping.WorkerStopped`` while no trial is held.
    """
    return _optimize(
        study,
        suggest,
        evaluate,
        n_trials,
        batch_size,
        n_steps,
        progress=progress,
        coordinator=coordinator_for(study, should_stop),
    )
