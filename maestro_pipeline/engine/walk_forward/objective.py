"""What a fold's search scores: batches of parameter sets backtested on in-sample sub-windows.

Indicators only look back, so the signals of a batch of trials are computed once on the full
history and every window is a bar-index range of the same arrays. A batch is one vectorbt
simulation per pruning step (growing IS sub-windows), one column per trial.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from maestro_pipeline.engine.backtest.result import SimulationArrays
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.backtest.tables import metrics_table
from maestro_pipeline.engine.engines import (
    DEFAULT_ENGINE,
    EngineVersion,
    check_settings,
    simulator,
)
from maestro_pipeline.engine.splits import WalkForwardFold, cumulative_subwindows
from maestro_pipeline.engine.strategy import OHLCV, Signals, Strategy, strategy_signals
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.params import is_invalid, params_key, suggest_params


def select_columns(signals: Signals, columns: Sequence[int]) -> Signals:
    """The signals of some parameter sets only."""
    index = np.asarray(columns, dtype=np.intp)
    return Signals(
        signals.long_entries[:, index],
        signals.long_exits[:, index],
        signals.short_entries[:, index],
        signals.short_exits[:, index],
        params=[signals.params[i] for i in index],
    )


def flat_at(signals: Signals, stop: int) -> Signals:
    """One column's signals with every position closed on the last bar before ``stop``.

    The exit is decided on bar ``stop - 2`` and filled at the open of bar ``stop - 1``, the
    window's last bar: each OOS fold ends flat, its trades are complete round trips with
    their exit costs, and the next fold's parameters start from cash.
    """
    decide = stop - 2
    arrays = [a.copy() for a in (signals.long_entries, signals.long_exits,
                                 signals.short_entries, signals.short_exits)]  # fmt: skip
    long_entries, long_exits, short_entries, short_exits = arrays
    long_entries[decide:] = False
    short_entries[decide:] = False
    long_exits[decide] = True
    short_exits[decide] = True
    return Signals(long_entries, long_exits, short_entries, short_exits, params=signals.params)


class Backtester:
    """Signals and simulations of parameter sets over windows of one bar series; timed.

    ``engine_version`` picks the engine (``engines``): v2 simulates a batch's parameter sets
    as the columns of one vectorbt run, v1 runs each of them through Backtrader on its own.
    """

    def __init__(
        self,
        ohlcv: OHLCV,
        strategy: Strategy,
        settings: BacktestSettings,
        periods: float,
        engine_version: EngineVersion = DEFAULT_ENGINE,
    ) -> None:
        self.ohlcv = ohlcv
        self.strategy = strategy
        self.settings = settings
        self.periods = periods
        self.engine_version = engine_version
        self.seconds = 0.0
        check_settings(engine_version, settings)
        self._simulate = simulator(engine_version)

    def signals(self, params_list: Sequence[Mapping[str, Any]]) -> Signals:
        started = time.perf_counter()
        try:
            return strategy_signals(self.ohlcv, self.strategy, params_list)
        finally:
            self.seconds += time.perf_counter() - started

    def metrics(self, signals: Signals, start: int, stop: int) -> pd.DataFrame:
        """Metrics table of every column over ``[start, stop)``."""
        started = time.perf_counter()
        try:
            arrays = self._simulate(self.ohlcv, signals, self.settings, start, stop)
            return metrics_table(arrays, self.periods)
        finally:
            self.seconds += time.perf_counter() - started

    def simulate(self, signals: Signals, start: int, stop: int) -> SimulationArrays:
        """Equity per bar and position records of every column over ``[start, stop)``."""
        started = time.perf_counter()
        try:
            return self._simulate(self.ohlcv, signals, self.settings, start, stop)
        finally:
            self.seconds += time.perf_counter() - started


def study_backtester(
    ohlcv: OHLCV, strategy: Strategy, config: WalkForwardConfig, periods: float
) -> Backtester:
    """The backtester of a study: its simulation settings on its engine."""
    return Backtester(ohlcv, strategy, config.backtest, periods, config.engine_version)


class FoldEvaluator:
    """``evaluate(params_list, step)`` for ``optimize_batched`` on one fold's IS window.

    Step 0 receives the whole batch: its signals are computed once, on the full history, and
    later steps (the trials that survived pruning) reuse their columns.
    """

    def __init__(
        self,
        backtester: Backtester,
        windows: list[tuple[int, int]],
        objective: str,
        min_trades: int,
        periods: float,
    ) -> None:
        self.backtester = backtester
        self.windows = windows
        self.objective = objective
        self.min_trades = min_trades
        self.periods = periods
        self._signals: Signals | None = None
        self._columns: dict[str, int] = {}
        # Per-bar IS Sharpe of each parameter set scored on the whole IS window (for DSR).
        self.is_sharpes: dict[str, float] = {}

    def __call__(self, params_list: list[dict[str, Any]], step: int) -> np.ndarray:
        values = np.full(len(params_list), np.nan)
        keys = [params_key(p) for p in params_list]
        strategy = self.backtester.strategy
        valid = [i for i, p in enumerate(params_list) if not is_invalid(strategy, p)]
        if not valid:
            return values
        if step == 0 or any(keys[i] not in self._columns for i in valid):
            unique: dict[str, dict[str, Any]] = {}
            for i in valid:
                unique.setdefault(keys[i], params_list[i])
            self._signals = self.backtester.signals(list(unique.values()))
            self._columns = {key: j for j, key in enumerate(unique)}
        assert self._signals is not None
        columns = sorted({self._columns[keys[i]] for i in valid})
        position = {column: j for j, column in enumerate(columns)}
        table = self.window_metrics(select_columns(self._signals, columns), step)
        scores = table[self.objective].to_numpy(dtype=float)
        trades = table["trade_count"].to_numpy(dtype=float)
        sharpes = table["sharpe_ratio"].to_numpy(dtype=float)
        last_step = step == len(self.windows) - 1
        for i in valid:
            j = position[self._columns[keys[i]]]
            # Intermediate sub-windows without a trade carry no information: not reported.
            # Only the full IS window applies the minimum-trades constraint.
            enough = trades[j] >= self.min_trades if last_step else trades[j] > 0
            values[i] = scores[j] if enough else np.nan
            if last_step:
                self.is_sharpes[keys[i]] = sharpes[j] / math.sqrt(self.periods)
        return values

    def window_metrics(self, signals: Signals, step: int) -> pd.DataFrame:
        """Metrics of every column of ``signals`` on pruning step ``step``'s window."""
        start, stop = self.windows[step]
        return self.backtester.metrics(signals, start, stop)


@dataclass(frozen=True)
class FoldObjective:
    """What Optuna needs to search one fold: how to draw parameters and how to score them."""

    suggest: Callable[[optuna.Trial], dict[str, Any]]
    evaluate: FoldEvaluator


def fold_objective(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    fold: WalkForwardFold,
    backtester: Backtester,
    periods: float,
) -> FoldObjective:
    """The objective of ``fold``'s in-sample search, scored over growing sub-windows
    (``searches.window_objective`` resolves the backtester and periods of a study)."""
    windows = cumulative_subwindows(fold.is_start, fold.is_stop, n_steps=config.pruning_steps)
    return FoldObjective(
        suggest=lambda trial: suggest_params(trial, strategy),
        evaluate=FoldEvaluator(backtester, windows, config.objective, config.min_trades, periods),
    )
