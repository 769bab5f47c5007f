"""Opening (and resuming) Optuna studies in a storage, and freeing a dead run's trials."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Literal

import optuna
from optuna.trial import TrialState

from maestro_pipeline.engine.walk_forward.batched import make_pruner, make_sampler
from maestro_pipeline.optimization.storages import DEFAULT_HEARTBEAT_SECONDS, open_storage


def open_study(
    storage: str | Path | optuna.storages.BaseStorage | None,
    study_name: str,
    *,
    direction: Literal["maximize", "minimize"] = "maximize",
    seed: int | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    n_startup_trials: int = 10,
    heartbeat_interval: int | None = DEFAULT_HEARTBEAT_SECONDS,
    grace_period: int | None = None,
    fail_running_trials: bool = False,
    sqlite_wal: bool = True,
) -> optuna.Study:
    """Create the study, or load it if ``study_name`` already exists in ``storage``.

    Args:
        storage: anything ``storages.open_storage`` accepts: a SQLAlchemy URL, a journal file
            path, a storage object built by the caller, or ``None`` to keep the study in memory.
        study_name: the study's key in the storage; reusing it resumes the study.
        direction: ``"maximize"`` or ``"minimize"`` the evaluator's value.
        seed: seed of the default sampler (``engine.walk_forward.batched.make_sampler``). A
            resumed study starts a fresh random stream, so it is reproducible but not identical
            to a run that was never interrupted.
        pruner: defaults to the median rule (``make_pruner("median", ...)``).
        sampler: overrides the default sampler (``seed``/``n_startup_trials`` then unused).
        n_startup_trials: random trials before TPE starts modelling.
        heartbeat_interval, grace_period, sqlite_wal: see ``storages.open_storage``.
        fail_running_trials: mark *every* RUNNING trial as FAIL on opening. Only correct when
            no other process works on this study (a re-executed single-worker run), where it
            frees the killed run's trials at once instead of after the grace period. It is
            also the only recovery for storages without heartbeats, and for a trial whose
            process died in the milliseconds between ``ask()`` and its first heartbeat.
    """
    backend = open_storage(
        storage,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        sqlite_wal=sqlite_wal,
    )
    study = optuna.create_study(
        storage=backend,
        sampler=sampler or make_sampler(seed, n_startup_trials),
        pruner=pruner or make_pruner("median", n_steps=1),
        study_name=study_name,
        direction=direction,
        load_if_exists=True,
    )
    recover_interrupted_trials(study, fail_all_running=fail_running_trials)
    return study


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
