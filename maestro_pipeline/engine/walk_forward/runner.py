"""Running a study: one Optuna search per fold (or cpcv split), then the OOS test.

For every fold a study searches the strategy's parameter space on the in-sample (IS) window;
the best parameters then trade the out-of-sample (OOS) window once. The OOS windows are
contiguous (see ``splits``), so their equity curves chain into one stitched OOS curve: the
only performance a trader could actually have had. With ``scheme="cpcv"`` the searches are
the splits of combinatorial purged cross-validation and the OOS curves are its backtest
paths (``cpcv_study``). Either way the study then gets its validation (``validation``).

Where the fold studies live is the caller's choice (``studies``): in memory by default;
``maestro_pipeline.optimization`` opens them in persistent storages (resumable, shareable by
several workers) and hands them in through the same ``StudyOpener`` interface.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import optuna
import pandas as pd
import polars as pl

from maestro_pipeline.engine.backtest.orders import infer_bar_ms
from maestro_pipeline.engine.metrics import periods_per_year
from maestro_pipeline.engine.splits import WalkForwardFold
from maestro_pipeline.engine.strategy import OHLCV, Strategy
from maestro_pipeline.engine.walk_forward.batched import (
    BatchProgress,
    TrialCoordinator,
    enqueue_params,
    make_pruner,
    make_sampler,
    optimize_batched,
)
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.cpcv_study import assemble_cpcv
from maestro_pipeline.engine.walk_forward.objective import study_backtester
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.results import WalkForwardResult, assemble
from maestro_pipeline.engine.walk_forward.searches import (
    Window,
    cpcv_plan,
    walk_forward_folds,
    window_objective,
)
from maestro_pipeline.engine.walk_forward.statistics import fill_is_sharpes
from maestro_pipeline.engine.walk_forward.validation import validation_summary


@dataclass(frozen=True)
class WalkForwardProgress:
    """Handed to the progress callback after every batch of trials (and at each fold's end)."""

    fold: int
    n_folds: int
    trials_done: int
    n_trials: int
    best_value: float | None


@dataclass(frozen=True)
class FoldStudyRequest:
    """What a study opener needs to open (or resume) one fold's study."""

    name: str
    fold: int
    seed: int
    pruner: optuna.pruners.BasePruner
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def sampler(self) -> optuna.samplers.BaseSampler:
        return make_sampler(self.seed)


class FoldStudy(Protocol):
    """One fold's study as the runner drives it."""

    study: optuna.Study
    coordinator: TrialCoordinator | None
    storage_seconds: float

    def after_batch(self) -> None:
        """A batch of trials finished (persist it, if the study is kept somewhere)."""

    def finish(self) -> None:
        """The fold has its whole budget."""


class StudyOpener(Protocol):
    """Opens fold studies; ``eager`` openers get every fold's study before the first runs."""

    eager: bool

    def __call__(self, request: FoldStudyRequest) -> FoldStudy: ...


@dataclass
class InMemoryFoldStudy:
    """A fold study that lives and dies with the call."""

    study: optuna.Study
    coordinator: TrialCoordinator | None = None
    storage_seconds: float = 0.0

    def after_batch(self) -> None:
        return None

    def finish(self) -> None:
        return None


class InMemoryStudies:
    """The default opener: every fold's study in memory."""

    eager = False

    def __call__(self, request: FoldStudyRequest) -> InMemoryFoldStudy:
        study = optuna.create_study(
            sampler=request.sampler(),
            pruner=request.pruner,
            study_name=request.name,
            direction="maximize",
        )
        return InMemoryFoldStudy(study)


def data_fingerprint(bars: pl.DataFrame | OHLCV) -> str:
    """Identifies the bars: count, first and last bar time and a short hash of the prices."""
    ohlcv = OHLCV.from_bars(bars)
    if len(ohlcv) == 0:
        raise ValueError("the bars are empty")
    digest = hashlib.blake2b(digest_size=4)
    for array in (ohlcv.timestamp, ohlcv.open, ohlcv.high, ohlcv.low, ohlcv.close):
        digest.update(np.ascontiguousarray(array).tobytes())

    def stamp(ms: int) -> str:
        return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y%m%dT%H%M")

    first, last = int(ohlcv.timestamp[0]), int(ohlcv.timestamp[-1])
    return f"{len(ohlcv)}b-{stamp(first)}-{stamp(last)}-{digest.hexdigest()}"


def study_name(
    strategy: Strategy, config: WalkForwardConfig, data_id: str, fold: int, prefix: str | None
) -> str:
    """The Optuna study name of one fold: equal inputs resume, different inputs never mix.

    The inputs are the strategy's code (its ``code_version``, when the catalog set one), the
    study settings and the bars: a study of edited code starts afresh instead of resuming the
    trials of the old code.
    """
    code = f"{strategy.code_version}:" if strategy.code_version else ""
    return f"{prefix or strategy.name}:{code}{config.fingerprint()}:{data_id}:fold-{fold:02d}"


def checked_bars(bars: pl.DataFrame | OHLCV) -> OHLCV:
    """Bars as arrays, refused with a clear error when they cannot be studied."""
    if isinstance(bars, pl.DataFrame):
        missing = [
            c for c in ("timestamp", "open", "high", "low", "close") if c not in bars.columns
        ]
        if missing:
            raise ValueError(f"bars lack the column(s) {missing}")
    ohlcv = OHLCV.from_bars(bars)
    if len(ohlcv) < 2:
        raise ValueError(f"need at least 2 bars, got {len(ohlcv)}")
    if not (np.diff(ohlcv.timestamp) > 0).all():
        raise ValueError("bar timestamps must be strictly increasing (sort and de-duplicate)")
    prices = np.column_stack((ohlcv.open, ohlcv.high, ohlcv.low, ohlcv.close))
    if not np.isfinite(prices).all():
        raise ValueError("bars hold missing or non-finite prices")
    return ohlcv


def run_walk_forward(
    bars: pl.DataFrame | OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    *,
    studies: StudyOpener | None = None,
    study_prefix: str | None = None,
    progress: Callable[[WalkForwardProgress], None] | None = None,
    study_attrs: Mapping[str, Any] | None = None,
) -> WalkForwardResult:
    """Run (or resume) a walk-forward or cpcv study (``config.scheme``) of ``strategy``.

    Args:
        bars: canonical bars (``timestamp`` UTC bar-open, ``open``..``volume``), sorted.
        strategy: the rule to optimize (``registry.get_strategy``).
        config: scheme and splits, budget, objective, costs; see ``WalkForwardConfig``.
        studies: opens each fold's Optuna study (``study_name(...)``); in memory by default.
            ``maestro_pipeline.optimization.run_study`` passes persistent ones, where equal
            inputs resume a killed run.
        study_prefix: replaces the strategy name at the front of the study names.
        progress: called after every batch of trials.
        study_attrs: JSON-friendly facts stored with each fold's request (a shared study
            records them so that workers can rebuild its objective).

    Raises:
        ValueError: too few bars for the splits, bad bars, or a bad strategy/config.

    The result's summary keys are listed in ``validation.SUMMARY_KEYS``.
    """
    started = time.perf_counter()
    if not isinstance(config, WalkForwardConfig):
        raise TypeError(f"config must be a WalkForwardConfig, got {type(config).__name__}")
    studies = studies or InMemoryStudies()
    ohlcv = checked_bars(bars)
    plan = cpcv_plan(ohlcv, config) if config.scheme == "cpcv" else None
    windows: list[Window] = list(plan.splits) if plan else walk_forward_folds(ohlcv, config)
    periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    data_id = data_fingerprint(ohlcv)
    defaults = strategy.validate()
    backtester = study_backtester(ohlcv, strategy, config, periods)
    names = [study_name(strategy, config, data_id, w.fold, study_prefix) for w in windows]
    attrs = {
        "strategy": strategy.name,
        "strategy_version": strategy.code_version,
        "config": config.as_dict(),
        "n_folds": len(windows),
        "data_fingerprint": data_id,
        **dict(study_attrs or {}),
    }
    optuna_ask = optuna_storage = 0.0

    def open_fold(window: Window) -> FoldStudy:
        request = FoldStudyRequest(
            name=names[window.fold],
            fold=window.fold,
            seed=config.seed + window.fold,
            pruner=make_pruner(config.pruner, config.pruning_steps),
            attrs={**attrs, "fold": window.fold},
        )
        opened = studies(request)
        enqueue_params(opened.study, [defaults])
        return opened

    opened_at = time.perf_counter()
    # Shared studies all exist from the start, so that workers can join any of them.
    early = {w.fold: open_fold(w) for w in windows} if studies.eager else {}
    optuna_storage += time.perf_counter() - opened_at
    outcomes: list[FoldOutcome] = []
    for window in windows:
        opened_at = time.perf_counter()
        fold_study = early.get(window.fold) or open_fold(window)
        optuna_storage += time.perf_counter() - opened_at
        objective = window_objective(ohlcv, strategy, config, window, backtester, periods)
        summary = optimize_batched(
            fold_study.study,
            objective.suggest,
            objective.evaluate,
            n_trials=config.n_trials,
            batch_size=config.batch_size,
            n_steps=config.pruning_steps,
            progress=_batch_callback(fold_study, progress, window.fold, len(windows)),
            coordinator=fold_study.coordinator,
        )
        fold_study.finish()
        optuna_ask += summary.sampling_seconds
        optuna_storage += fold_study.storage_seconds + summary.storage_seconds
        fetched = time.perf_counter()
        trials = fold_study.study.get_trials(deepcopy=False)
        optuna_storage += time.perf_counter() - fetched
        outcome = FoldOutcome(
            window,  # type: ignore[arg-type]
            names[window.fold],
            trials,
            objective.evaluate.is_sharpes,
            summary.n_evaluated_here,
        )
        fill_is_sharpes(outcome, objective.evaluate)
        outcomes.append(outcome)
        if progress is not None:
            progress(
                WalkForwardProgress(
                    window.fold, len(windows), summary.n_finished, config.n_trials,
                    summary.best_value,
                )
            )  # fmt: skip

    if plan is not None:
        result = assemble_cpcv(ohlcv, strategy, config, plan, outcomes, backtester, periods)
    else:
        folds = [w for w in windows if isinstance(w, WalkForwardFold)]
        result = assemble(ohlcv, strategy, config, folds, outcomes, backtester, periods)
    validated_at = time.perf_counter()
    groups = plan.groups if plan is not None else None
    result.summary.update(
        validation_summary(result, outcomes, strategy, config, periods, ohlcv, groups)
    )
    validation = time.perf_counter() - validated_at
    total = time.perf_counter() - started
    sampling = optuna_ask + optuna_storage
    result.summary.update(
        strategy=strategy.name,
        strategy_version=strategy.code_version,
        study_prefix=study_prefix or strategy.name,
        config=config.as_dict(),
        config_fingerprint=config.fingerprint(),
        data_fingerprint=data_id,
        n_bars=len(ohlcv),
        periods_per_year=periods,
        timings={
            "sampling": sampling,
            "optuna_ask": optuna_ask,
            "optuna_storage": optuna_storage,
            "backtesting": backtester.seconds,
            "validation": validation,
            "cross_check": result.summary["cross_check"]["seconds"],
            "other": max(0.0, total - sampling - backtester.seconds - validation),
            "total": total,
        },
    )
    return result


def _batch_callback(
    fold_study: FoldStudy,
    progress: Callable[[WalkForwardProgress], None] | None,
    fold: int,
    n_folds: int,
) -> Callable[[BatchProgress], None]:
    """After every batch: persist it, then report progress."""

    def after_batch(batch: BatchProgress) -> None:
        fold_study.after_batch()
        if progress is not None:
            progress(
                WalkForwardProgress(fold, n_folds, batch.n_finished, batch.n_trials,
                                    batch.best_value)
            )  # fmt: skip

    return after_batch
