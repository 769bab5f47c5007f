"""Workers that join walk-forward fold studies kept in a shared Optuna storage.

A walk-forward run on a shared storage (``runs.run_study(..., exclusive=False)``) creates every
fold's study up front and records in each one what it optimizes (strategy, config, fold, data
fingerprint and where the bars are: ``FOLD_STUDY_ATTR``). Any process that can open the storage
and read the same bars can then spend part of a fold's budget: the way Optuna itself
distributes a study (same study, same storage, one process per core or machine), with the
objective rebuilt from the study instead of from a copied script. The budget is exact across
workers (``coordination``): two, four or forty workers finish each fold with precisely
``n_trials`` trials.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna
import polars as pl

from maestro_pipeline.catalog import get_strategy
from maestro_pipeline.engine.strategy import OHLCV
from maestro_pipeline.engine.walk_forward.batched import (
    BatchProgress,
    OptimizationSummary,
    make_pruner,
)
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.runner import data_fingerprint
from maestro_pipeline.engine.walk_forward.searches import study_windows, window_objective
from maestro_pipeline.optimization.coordination import optimize_batched
from maestro_pipeline.optimization.runs import DONE_ATTR, FOLD_STUDY_ATTR
from maestro_pipeline.optimization.stopping import pause, stop_if_asked
from maestro_pipeline.optimization.storages import DEFAULT_HEARTBEAT_SECONDS
from maestro_pipeline.optimization.studies import open_study


@dataclass(frozen=True)
class FoldStudySpec:
    """One fold study as a worker sees it."""

    study_name: str
    strategy: str
    config: WalkForwardConfig
    fold: int
    n_folds: int
    data_fingerprint: str
    source: dict[str, Any]
    strategy_version: str | None = None

    @classmethod
    def from_attrs(cls, study_name: str, attrs: Mapping[str, Any]) -> FoldStudySpec:
        return cls(
            study_name=study_name,
            strategy=str(attrs["strategy"]),
            config=WalkForwardConfig.from_dict(attrs["config"]),
            fold=int(attrs["fold"]),
            n_folds=int(attrs["n_folds"]),
            data_fingerprint=str(attrs["data_fingerprint"]),
            source=dict(attrs.get("source") or {}),
            strategy_version=attrs.get("strategy_version"),
        )


def open_fold_studies(
    storage: str | optuna.storages.BaseStorage, names: set[str] | None = None
) -> list[FoldStudySpec]:
    """Fold studies in ``storage`` that still want trials, oldest first.

    ``names`` restricts the search to those study names. Studies not made by a walk-forward
    run, and studies marked done, are left out.
    """
    summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    found = []
    for summary in sorted(summaries, key=lambda s: s._study_id):
        attrs = summary.user_attrs.get(FOLD_STUDY_ATTR)
        if attrs is None or summary.user_attrs.get(DONE_ATTR):
            continue
        if names is not None and summary.study_name not in names:
            continue
        found.append(FoldStudySpec.from_attrs(summary.study_name, attrs))
    return found


def work_on_fold_study(
    storage: str | optuna.storages.BaseStorage,
    spec: FoldStudySpec,
    bars: pl.DataFrame | OHLCV,
    *,
    seed: int | None = None,
    heartbeat_interval: int = DEFAULT_HEARTBEAT_SECONDS,
    grace_period: int | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> OptimizationSummary:
    """Spend this process's share of one fold study's trial budget; return when it is spent.

    Args:
        storage: the study's storage (a SQLAlchemy URL for heartbeats and exact budgets).
        spec: from ``open_fold_studies``.
        bars: the study's bars; their fingerprint must equal the study's.
        seed: sampler seed; ``None`` (the default) draws one, so that workers do not all
            propose the same parameters.
        heartbeat_interval, grace_period: see ``storages.open_storage``.
        progress: called after every batch.
        should_stop: asked before and after every batch; once true, the call ends with
            ``stopping.WorkerStopped`` while this process holds no trial (the batch in flight
            is finished and told first).

    Raises:
        ValueError: the bars are not the study's bars, or this process loads another version
            of the strategy's code than the study was made with.
        KeyError: the strategy is unknown or broken here.
        stopping.WorkerStopped: ``should_stop`` said so.
    """
    ohlcv = OHLCV.from_bars(bars)
    found = data_fingerprint(ohlcv)
    if found != spec.data_fingerprint:
        raise ValueError(
            f"study {spec.study_name!r} was made on bars {spec.data_fingerprint}, "
            f"these bars are {found}"
        )
    strategy = get_strategy(spec.strategy)
    if spec.strategy_version and strategy.code_version != spec.strategy_version:
        raise ValueError(
            f"study {spec.study_name!r} was made with version {spec.strategy_version} of "
            f"strategy '{spec.strategy}', this worker loads version {strategy.code_version}: "
            "give it the same strategy code (MAESTRO_STRATEGY_PATH)"
        )
    config = spec.config
    window = study_windows(ohlcv, config)[spec.fold]
    objective = window_objective(ohlcv, strategy, config, window)
    study = open_study(
        storage,
        spec.study_name,
        direction="maximize",
        seed=seed,
        pruner=make_pruner(config.pruner, config.pruning_steps),
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )

    def after_batch(state: BatchProgress) -> None:
        if progress is not None:
            progress(state)
        # Every trial of the batch is told: a stop here strands nothing, whatever the storage.
        stop_if_asked(should_stop)

    summary = optimize_batched(
        study,
        objective.suggest,
        objective.evaluate,
        n_trials=config.n_trials,
        batch_size=config.batch_size,
        n_steps=config.pruning_steps,
        progress=after_batch,
        should_stop=should_stop,
    )
    study.set_user_attr(DONE_ATTR, True)
    return summary


def serve_open_studies(
    storage: optuna.storages.BaseStorage,
    load_bars: Callable[[Mapping[str, Any]], pl.DataFrame],
    *,
    names: set[str] | None = None,
    idle_timeout: float = 0.0,
    poll_seconds: float = 1.0,
    on_done: Callable[[FoldStudySpec, OptimizationSummary], None] | None = None,
    on_skip: Callable[[FoldStudySpec, Exception], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Work on every open fold study of ``storage`` until none has been open for a while.

    ``load_bars(source)`` reads the bars a study recorded (a file or the lake); a study whose
    bars cannot be read, or are not its bars, is skipped (``on_skip``) and never retried by
    this worker. Returns once no study was open for ``idle_timeout`` seconds. Once
    ``should_stop()`` is true, raises ``stopping.WorkerStopped`` at the next point where no
    trial is held: after the batch in flight, or at once while idle.
    """
    bars_cache: dict[str, pl.DataFrame] = {}
    skipped: set[str] = set()
    idle_since = time.monotonic()
    while True:
        stop_if_asked(should_stop)
        open_studies = [s for s in open_fold_studies(storage, names) if s.study_name not in skipped]
        for fold_study in open_studies:
            key = json.dumps(fold_study.source, sort_keys=True)
            try:
                if key not in bars_cache:
                    bars_cache[key] = load_bars(fold_study.source)
                summary = work_on_fold_study(
                    storage, fold_study, bars_cache[key], should_stop=should_stop
                )
            except (ValueError, KeyError) as exc:
                skipped.add(fold_study.study_name)
                if on_skip is not None:
                    on_skip(fold_study, exc)
                continue
            if on_done is not None:
                on_done(fold_study, summary)
        if open_studies:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_timeout:
            return
        pause(poll_seconds, should_stop)
