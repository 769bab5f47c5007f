"""A study's searches: its walk-forward folds or its cpcv splits, each one Optuna search.

The study runner and the workers that join shared studies both build a search's windows
and objective here, from the study spec alone, so they always agree on what search ``k`` of
a study is, whichever the scheme.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maestro_pipeline.engine.backtest.orders import infer_bar_ms
from maestro_pipeline.engine.cpcv import CpcvPlan, CpcvSplit, cpcv_splits
from maestro_pipeline.engine.metrics import periods_per_year
from maestro_pipeline.engine.splits import WalkForwardFold, walk_forward_splits
from maestro_pipeline.engine.strategy import OHLCV, Strategy
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.objective import (
    Backtester,
    FoldObjective,
    fold_objective,
    study_backtester,
)
from maestro_pipeline.engine.walk_forward.params import suggest_params
from maestro_pipeline.engine.walk_forward.segments import SegmentsEvaluator, cumulative_segments

Window = WalkForwardFold | CpcvSplit


def walk_forward_folds(ohlcv: OHLCV, config: WalkForwardConfig) -> list[WalkForwardFold]:
    """The folds of ``config`` over these bars; a clear error when they are too few."""
    times = pd.to_datetime(ohlcv.timestamp, unit="ms", utc=True)
    try:
        folds = walk_forward_splits(
            timestamps=times,
            n_splits=config.n_splits,
            is_oos_ratio=config.is_oos_ratio,
            anchored=config.anchored,
            purge_bars=config.purge_bars,
            embargo_bars=config.embargo_bars,
        )
    except ValueError as exc:
        raise ValueError(f"too few bars for the walk-forward splits: {exc}") from exc
    shortest = min(f.is_bars for f in folds)
    if shortest < 2 * config.pruning_steps:
        raise ValueError(
            f"too few bars for the walk-forward splits: the in-sample windows hold {shortest} "
            f"bars, too few for {config.pruning_steps} pruning steps; use more bars or fewer "
            "splits"
        )
    if min(f.oos_bars for f in folds) < 2:
        raise ValueError(
            "too few bars for the walk-forward splits: out-of-sample windows of fewer than 2 "
            "bars; use more bars or fewer splits"
        )
    return folds


def cpcv_plan(ohlcv: OHLCV, config: WalkForwardConfig) -> CpcvPlan:
    """The cpcv splits of ``config`` over these bars; a clear error when they do not fit."""
    try:
        plan = cpcv_splits(
            len(ohlcv), config.n_groups, config.n_test_groups, config.purge_bars,
            config.embargo_bars,
        )  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"too few bars for the cpcv splits: {exc}") from exc
    shortest = min(split.train_bars for split in plan.splits)
    if shortest < 2 * config.pruning_steps:
        raise ValueError(
            f"too few bars for the cpcv splits: a training set holds {shortest} bars, too few "
            f"for {config.pruning_steps} pruning steps; use more bars or fewer test groups"
        )
    return plan


def study_windows(ohlcv: OHLCV, config: WalkForwardConfig) -> list[Window]:
    """Search ``k``'s windows, for every search of the study (folds or cpcv splits)."""
    if config.scheme == "cpcv":
        return list(cpcv_plan(ohlcv, config).splits)
    return list(walk_forward_folds(ohlcv, config))


def window_objective(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    window: Window,
    backtester: Backtester | None = None,
    periods: float | None = None,
) -> FoldObjective:
    """What search ``window`` optimizes: the in-sample (training) score over pruning steps."""
    if periods is None:
        periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    if backtester is None:
        backtester = study_backtester(ohlcv, strategy, config, periods)
    if isinstance(window, WalkForwardFold):
        return fold_objective(ohlcv, strategy, config, window, backtester, periods)
    steps = cumulative_segments(window.train, config.pruning_steps)
    return FoldObjective(
        suggest=lambda trial: suggest_params(trial, strategy),
        evaluate=SegmentsEvaluator(backtester, steps, config.objective, config.min_trades, periods),
    )


def in_sample_rows(window: Window) -> np.ndarray:
    """The bar indices a search scored its trials on."""
    if isinstance(window, WalkForwardFold):
        return np.arange(window.is_start, window.is_stop, dtype=np.int64)
    return window.train_index()


def out_of_sample_bars(window: Window) -> int:
    """How many bars the search's chosen parameters traded out of sample."""
    if isinstance(window, WalkForwardFold):
        return window.oos_bars
    return window.test_bars
