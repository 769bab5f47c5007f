"""Walk-forward studies whose fold studies live in a storage: resumable, shareable.

``run_study`` is ``engine.walk_forward.run_walk_forward`` with each fold's Optuna study opened
in a storage by ``StoredStudies``:

* exclusive (one run owns the studies, the default for files): trials are asked, reported and
  told on an in-memory copy of the stored study, and each finished batch is written to the
  storage in one ``add_trials`` call: one write per trial instead of about ten (ask, every
  suggested parameter, every intermediate value, pruning reads, tell), and into a journal file
  one locked, fsynced append for the whole batch. A killed run loses at most the batch in
  flight; the next run copies the stored trials back in and goes on. Trials left RUNNING by a
  killed earlier run are failed at once.
* shared (a database server, or several local workers): every fold's study is created before
  the first is optimized and records what a worker needs to join it (``FOLD_STUDY_ATTR``);
  trials are asked and told on the storage itself so that concurrent workers see each other's
  trials at once, and the budget is spent exactly among them (``coordination``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
import polars as pl

from maestro_pipeline.engine.strategy import OHLCV, Strategy
from maestro_pipeline.engine.walk_forward.batched import TrialCoordinator
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.results import WalkForwardResult
from maestro_pipeline.engine.walk_forward.runner import (
    FoldStudyRequest,
    WalkForwardProgress,
    run_walk_forward,
)
from maestro_pipeline.optimization.coordination import coordinator_for
from maestro_pipeline.optimization.storages import (
    DEFAULT_HEARTBEAT_SECONDS,
    grouped_writes,
    open_storage,
)
from maestro_pipeline.optimization.studies import open_study

# User attribute of every shared fold study: what a worker needs to join it (strategy, config,
# fold, data fingerprint and where the bars are); DONE_ATTR is set once it has all its trials.
FOLD_STUDY_ATTR = "maestro_fold_study"
DONE_ATTR = "maestro_done"


class StoredFoldStudy:
    """A fold's study: where trials are sampled (``study``) and where they are kept."""

    def __init__(
        self,
        study: optuna.Study,
        persistent: optuna.Study | None,
        coordinator: TrialCoordinator | None,
        storage: optuna.storages.BaseStorage | None = None,
    ) -> None:
        self.study = study
        self.persistent = persistent
        self.coordinator = coordinator
        self.storage = storage  # the persistent study's, for writing a batch at once
        self.storage_seconds = 0.0
        self._persisted = len(study.get_trials(deepcopy=False))

    def after_batch(self) -> None:
        """Write the working study's newly finished trials to the persistent storage."""
        if self.persistent is None:
            return
        started = time.perf_counter()
        fresh = []
        for trial in self.study.get_trials(deepcopy=False)[self._persisted :]:
            if not trial.state.is_finished():
                break  # Keep trial order (and numbers) aligned with the stored study.
            fresh.append(trial)
        if fresh:
            with grouped_writes(self.storage):
                self.persistent.add_trials(fresh)
            self._persisted += len(fresh)
        self.storage_seconds += time.perf_counter() - started

    def finish(self) -> None:
        """Tell workers looking for open studies that this one has its trials."""
        stored = self.persistent or self.study
        if FOLD_STUDY_ATTR in stored.user_attrs:
            stored.set_user_attr(DONE_ATTR, True)


class StoredStudies:
    """Opens fold studies in one storage, exclusively or shared (see the module docstring)."""

    def __init__(
        self,
        storage: optuna.storages.BaseStorage,
        *,
        exclusive: bool = True,
        heartbeat_interval: int = DEFAULT_HEARTBEAT_SECONDS,
    ) -> None:
        self.storage = storage
        self.exclusive = exclusive
        self.heartbeat_interval = heartbeat_interval
        # Shared studies all exist from the start, so that workers can join any of them.
        self.eager = not exclusive

    def __call__(self, request: FoldStudyRequest) -> StoredFoldStudy:
        stored = open_study(
            self.storage,
            request.name,
            sampler=request.sampler(),
            pruner=request.pruner,
            heartbeat_interval=self.heartbeat_interval,
            fail_running_trials=self.exclusive,
        )
        if not self.exclusive:
            # Only shared studies invite workers: an exclusive run samples on its own copy.
            if FOLD_STUDY_ATTR not in stored.user_attrs:
                stored.set_user_attr(FOLD_STUDY_ATTR, dict(request.attrs))
            return StoredFoldStudy(stored, None, coordinator_for(stored))
        working = optuna.create_study(
            sampler=request.sampler(),
            pruner=request.pruner,
            study_name=request.name,
            direction="maximize",
        )
        finished = [t for t in stored.get_trials(deepcopy=False) if t.state.is_finished()]
        working.add_trials(finished)
        return StoredFoldStudy(working, stored, None, self.storage)


def run_study(
    bars: pl.DataFrame | OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    *,
    storage: str | Path | optuna.storages.BaseStorage | None = None,
    exclusive: bool = True,
    study_prefix: str | None = None,
    progress: Callable[[WalkForwardProgress], None] | None = None,
    source: Mapping[str, Any] | None = None,
    heartbeat_interval: int = DEFAULT_HEARTBEAT_SECONDS,
) -> WalkForwardResult:
    """Run (or resume) a walk-forward study whose fold studies are kept in ``storage``.

    Args:
        storage: anything ``storages.open_storage`` accepts; ``None`` keeps the studies in
            memory. Re-running identical inputs on the same storage resumes the studies,
            keeping their finished trials.
        exclusive: this call is the only worker on these studies (see the module docstring).
            Pass ``False`` when other processes may work on the same studies at the same time.
        study_prefix: replaces the strategy name at the front of the study names.
        progress: called after every batch of trials.
        source: where a worker finds these bars (JSON-friendly, e.g. symbol and timeframe);
            stored with each shared fold study beside the strategy, config, fold and data
            fingerprint.
        heartbeat_interval: seconds between heartbeats of running trials on RDB storages; a
            worker's trials are run again by the others after twice this long without one.
    """
    backend = open_storage(storage, heartbeat_interval=heartbeat_interval)
    studies = (
        None
        if backend is None
        else StoredStudies(backend, exclusive=exclusive, heartbeat_interval=heartbeat_interval)
    )
    return run_walk_forward(
        bars,
        strategy,
        config,
        studies=studies,
        study_prefix=study_prefix,
        progress=progress,
        study_attrs={"source": dict(source or {})},
    )
