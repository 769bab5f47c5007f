"""Walk-forward studies: optimize on each fold's in-sample window, test on the window after it.

For every fold an Optuna study searches the strategy's parameter space on the in-sample (IS)
window; the best parameters then trade the out-of-sample (OOS) window once. The OOS windows
are contiguous (see ``splits``), so their equity curves chain into one stitched OOS curve:
the only performance a trader could actually have had.

Speed: indicators only look back, so the signals of a batch of trials are computed once on
the full history and every window is a bar-index range of the same arrays. A batch of trials
is one vectorbt simulation per pruning step (growing IS sub-windows), one column per trial.
With a persistent storage, trials are sampled on an in-memory copy of the stored study and
written back after every batch (see ``_StudyPair``).

Stitching: each fold's OOS simulation starts from cash and closes any position on its last
bar, so the folds chain exactly: fold ``k + 1`` starts from fold ``k``'s final equity, and
its trades' money amounts are scaled to that equity.

Folds without any feasible trial (every trial below ``min_trades``) trade the strategy's
defaults and report ``best_value`` NaN.

Selection-bias statistics reported in the summary:

* ``wf_efficiency`` (Pardo): per fold, the annualized OOS return (CAGR) divided by the
  annualized IS return of the chosen parameters; undefined (NaN) when the IS return is not
  positive, because the ratio then has no meaning. The summary holds the median of the
  defined folds.
* ``param_stability``: per parameter, the coefficient of variation (population standard
  deviation / |mean|) of the fold winners for numbers, lower is steadier; the share of folds
  that chose the most frequent value for categoricals, higher is steadier.
* ``deflated_sharpe_ratio`` (Bailey & López de Prado 2014): the observed Sharpe is the
  per-bar Sharpe of the stitched OOS returns; the number of trials is every feasible trial
  of every fold (complete or pruned), and the variance of trial Sharpes is that of the
  complete trials' per-bar IS Sharpes. Pooling all folds is conservative: the stitched curve
  is the product of all those selections.
* ``pbo`` (CSCV, Bailey, Borwein, López de Prado & Zhu): up to ``PBO_MAX_CONFIGURATIONS``
  distinct complete parameter sets (a seeded random sample when there are more) are simulated
  over the whole walk-forward span (first IS bar to last OOS bar) in one batched call; their
  per-bar returns form the T x N matrix, cut into S = 16 blocks. One common span for all
  configurations is what CSCV needs; fold-specific windows would not be comparable columns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import optuna
import pandas as pd
import polars as pl
from optuna.trial import FrozenTrial, TrialState

from maestro_pipeline.engine.backtest import (
    BacktestSettings,
    SimulationArrays,
    evaluate_signals,
    infer_bar_ms,
    simulate_orders,
)
from maestro_pipeline.engine.metrics import (
    finite_or_none,
    floor_at_ruin,
    json_safe,
    periods_per_year,
    return_metrics,
    returns_from_values,
)
from maestro_pipeline.engine.optimize import (
    INFEASIBLE_ATTR,
    BatchProgress,
    enqueue_params,
    make_pruner,
    open_study,
    optimize_batched,
)
from maestro_pipeline.engine.overfitting import (
    deflated_sharpe_ratio_from_returns,
    probability_of_backtest_overfitting,
)
from maestro_pipeline.engine.splits import (
    WalkForwardFold,
    cumulative_subwindows,
    walk_forward_splits,
)
from maestro_pipeline.engine.strategy import (
    OHLCV,
    CategoricalParam,
    FloatParam,
    IntParam,
    ParameterError,
    Signals,
    Strategy,
    strategy_signals,
)

Objective = Literal["sharpe_ratio", "sortino_ratio", "calmar_ratio", "total_return"]
PrunerKind = Literal["median", "hyperband", "none"]
OBJECTIVES: tuple[str, ...] = get_args(Objective)
PRUNERS: tuple[str, ...] = get_args(PrunerKind)

# User attribute holding the parameters a trial was actually evaluated with, when they differ
# from what the sampler suggested (see ``_repair_order``).
EVALUATED_PARAMS_ATTR = "evaluated_params"
PBO_MAX_CONFIGURATIONS = 200
PBO_PARTITIONS = 16
# Metrics reported per fold for the IS and the OOS window (prefixed ``is_`` / ``oos_``).
FOLD_METRICS = (
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "total_return",
    "cagr",
    "max_drawdown",
    "trade_count",
    "win_rate",
    "exposure",
)
SUMMARY_METRICS = (
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "total_return",
    "cagr",
    "volatility",
    "max_drawdown",
    "trade_count",
    "win_rate",
    "profit_factor",
    "average_trade_return",
    "exposure",
)


# User attribute of every stored fold study: what a worker needs to join it (strategy, config,
# fold, data fingerprint and where the bars are); DONE_ATTR is set once it has all its trials.
FOLD_STUDY_ATTR = "maestro_fold_study"
DONE_ATTR = "maestro_done"


class ConfigError(ValueError):
    """A walk-forward setting is invalid; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"walk-forward setting '{field_name}' {message}")


@dataclass(frozen=True)
class WalkForwardConfig:
    """Everything that decides a walk-forward study's result (the bars and strategy aside)."""

    n_splits: int = 10
    is_oos_ratio: float = 4.0
    anchored: bool = False
    purge_bars: int = 0
    n_trials: int = 100
    batch_size: int = 25
    pruning_steps: int = 4
    pruner: PrunerKind = "median"
    objective: Objective = "sharpe_ratio"
    min_trades: int = 3
    seed: int = 42
    backtest: BacktestSettings = field(default_factory=BacktestSettings)

    def __post_init__(self) -> None:
        def integer(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ConfigError(name, f"must be an integer, got {value!r}")
            if value < low:
                raise ConfigError(name, f"must be >= {low}, got {value}")

        integer("n_splits", 1)
        integer("purge_bars", 0)
        integer("n_trials", 1)
        integer("batch_size", 1)
        integer("pruning_steps", 1)
        integer("min_trades", 0)
        integer("seed", 0)
        ratio = self.is_oos_ratio
        if (
            isinstance(ratio, bool)
            or not isinstance(ratio, int | float)
            or not (math.isfinite(ratio) and ratio > 0)
        ):
            raise ConfigError("is_oos_ratio", f"must be a finite number > 0, got {ratio!r}")
        if not isinstance(self.anchored, bool):
            raise ConfigError("anchored", f"must be true or false, got {self.anchored!r}")
        if self.pruner not in PRUNERS:
            raise ConfigError("pruner", f"must be one of {', '.join(PRUNERS)}; got {self.pruner!r}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                "objective", f"must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}"
            )
        if not isinstance(self.backtest, BacktestSettings):
            raise ConfigError("backtest", f"must be a BacktestSettings, got {self.backtest!r}")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly fields (the backtest settings as a nested dict)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> WalkForwardConfig:
        """The inverse of ``as_dict``."""
        values = dict(fields)
        values["backtest"] = BacktestSettings(**values.get("backtest", {}))
        return cls(**values)

    def fingerprint(self) -> str:
        """A short stable hash of every field: equal configs, equal fingerprints."""
        payload = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(payload.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True)
class WalkForwardProgress:
    """Handed to the progress callback after every batch of trials (and at each fold's end)."""

    fold: int
    n_folds: int
    trials_done: int
    n_trials: int
    best_value: float | None


@dataclass
class WalkForwardResult:
    """A walk-forward study's outcome.

    * ``folds``: one row per fold (windows as UTC datetimes, best parameters as JSON, IS and
      OOS metrics, walk-forward efficiency, trial counts, study name).
    * ``equity``: the stitched OOS curve (timestamp, equity, returns, drawdown, fold); each
      fold starts from the previous fold's final equity.
    * ``trades``: the stitched OOS trades, money amounts in the stitched curve's currency.
    * ``trials``: every trial of every fold (fold, number, state, value, params as JSON).
    * ``summary``: JSON-friendly dict of the stitched OOS metrics (top-level keys and again
      under ``oos``), ``deflated_sharpe_ratio``, ``pbo``, ``wf_efficiency``,
      ``param_stability``, counts and ``timings`` in seconds.
    """

    folds: pl.DataFrame
    equity: pl.DataFrame
    trades: pl.DataFrame
    trials: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Public statistics (also used on their own by tests and reports)


def walk_forward_efficiency(is_annual_return: float, oos_annual_return: float) -> float:
    """Pardo's walk-forward efficiency: annualized OOS return / annualized IS return.

    NaN when the IS return is not positive (nothing was gained in-sample to be efficient with).
    """
    if not (math.isfinite(is_annual_return) and is_annual_return > 0):
        return math.nan
    if not math.isfinite(oos_annual_return):
        return math.nan
    return oos_annual_return / is_annual_return


def parameter_stability(
    best_params: Sequence[Mapping[str, Any]], space: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """How much each parameter's winning value moves across folds.

    Numbers (``IntParam``/``FloatParam`` in ``space``, or numeric values when no space is
    given) get ``{"kind": "numeric", "cv", "mean", "std"}`` with the population standard
    deviation and ``cv = std / |mean|`` (NaN for a zero mean). Other parameters get
    ``{"kind": "categorical", "mode", "mode_share"}``: the most frequent value and the share
    of folds that chose it.
    """
    names = list(dict.fromkeys(name for params in best_params for name in params))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        values = [p[name] for p in best_params if name in p]
        spec = None if space is None else space.get(name)
        numeric = (
            isinstance(spec, IntParam | FloatParam)
            if spec is not None
            else all(
                isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
                for v in values
            )
        )
        if numeric:
            array = np.asarray(values, dtype=float)
            mean = float(array.mean())
            std = float(array.std(ddof=0))
            cv = std / abs(mean) if mean != 0 else math.nan
            out[name] = {"kind": "numeric", "cv": cv, "mean": mean, "std": std}
        else:
            counts = Counter(json.dumps(v, sort_keys=True) for v in values)
            mode, count = counts.most_common(1)[0]
            out[name] = {
                "kind": "categorical",
                "mode": json.loads(mode),
                "mode_share": count / len(values),
            }
    return out


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
    """The Optuna study name of one fold: equal inputs resume, different inputs never mix."""
    return f"{prefix or strategy.name}:{config.fingerprint()}:{data_id}:fold-{fold:02d}"


# ---------------------------------------------------------------------------------------------
# Suggesting parameters


def _suggest(trial: optuna.Trial, strategy: Strategy) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, spec in strategy.space.items():
        if isinstance(spec, IntParam):
            step = 1 if spec.log else spec.step
            raw[name] = trial.suggest_int(name, spec.low, spec.high, step=step, log=spec.log)
        elif isinstance(spec, FloatParam):
            step = None if spec.log else spec.step
            raw[name] = trial.suggest_float(name, spec.low, spec.high, step=step, log=spec.log)
        elif isinstance(spec, CategoricalParam):
            raw[name] = trial.suggest_categorical(name, list(spec.choices))
        else:  # pragma: no cover - the strategy contract has only these three kinds
            raise TypeError(f"{strategy.name}: unsupported parameter spec {spec!r}")
    evaluated = _repair_order(strategy, raw)
    if evaluated != raw:
        trial.set_user_attr(EVALUATED_PARAMS_ATTR, evaluated)
    return evaluated


def _repair_order(strategy: Strategy, params: dict[str, Any]) -> dict[str, Any]:
    """Swap values that break ``smaller < larger`` constraints (a fast window above a slow one).

    Up to a third of a box-shaped space breaks such constraints; scoring those points as
    infeasible would waste that share of the budget and teach the sampler nothing. Swapping
    maps every point of the box to a valid one (the spaces are ordered: the smaller
    parameter's range starts and ends no later than the larger one's), so the sampler sees a
    well-defined objective everywhere. Equal values stay invalid and score as infeasible.
    """
    repaired = dict(params)
    for _ in range(len(strategy.constraints) + 1):
        changed = False
        for constraint in strategy.constraints:
            small, large = repaired[constraint.smaller], repaired[constraint.larger]
            if small > large:
                repaired[constraint.smaller], repaired[constraint.larger] = large, small
                changed = True
        if not changed:
            break
    try:
        return strategy.validate(repaired)
    except ParameterError:
        return params  # Scored as infeasible by the evaluator.


def _invalid(strategy: Strategy, params: Mapping[str, Any]) -> bool:
    try:
        strategy.validate(params)
    except ParameterError:
        return True
    return False


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _trial_params(trial: FrozenTrial) -> dict[str, Any]:
    """The parameters a trial was evaluated with."""
    return dict(trial.user_attrs.get(EVALUATED_PARAMS_ATTR, trial.params))


# ---------------------------------------------------------------------------------------------
# Evaluating batches


def _select_columns(signals: Signals, columns: Sequence[int]) -> Signals:
    index = np.asarray(columns, dtype=np.intp)
    return Signals(
        signals.long_entries[:, index],
        signals.long_exits[:, index],
        signals.short_entries[:, index],
        signals.short_exits[:, index],
        params=[signals.params[i] for i in index],
    )


def _flat_at(signals: Signals, stop: int) -> Signals:
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


class _Backtester:
    """Signals and simulations of parameter sets over windows of one bar series; timed."""

    def __init__(
        self, ohlcv: OHLCV, strategy: Strategy, settings: BacktestSettings, periods: float
    ) -> None:
        self.ohlcv = ohlcv
        self.strategy = strategy
        self.settings = settings
        self.periods = periods
        self.seconds = 0.0

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
            return evaluate_signals(
                self.ohlcv, signals, self.settings, start, stop, periods=self.periods
            )
        finally:
            self.seconds += time.perf_counter() - started

    def simulate(self, signals: Signals, start: int, stop: int) -> SimulationArrays:
        """Equity per bar and position records of every column over ``[start, stop)``."""
        started = time.perf_counter()
        try:
            return simulate_orders(self.ohlcv, signals, self.settings, start, stop)
        finally:
            self.seconds += time.perf_counter() - started


class _FoldEvaluator:
    """``evaluate(params_list, step)`` for ``optimize_batched`` on one fold's IS window.

    Step 0 receives the whole batch: its signals are computed once, on the full history, and
    later steps (the trials that survived pruning) reuse their columns.
    """

    def __init__(
        self,
        backtester: _Backtester,
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
        keys = [_params_key(p) for p in params_list]
        valid = [i for i, p in enumerate(params_list) if not _invalid(self.backtester.strategy, p)]
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
        start, stop = self.windows[step]
        table = self.backtester.metrics(_select_columns(self._signals, columns), start, stop)
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


@dataclass(frozen=True)
class FoldObjective:
    """What Optuna needs to search one fold: how to draw parameters and how to score them."""

    suggest: Callable[[optuna.Trial], dict[str, Any]]
    evaluate: _FoldEvaluator


def fold_objective(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    fold: WalkForwardFold,
    backtester: _Backtester | None = None,
    periods: float | None = None,
) -> FoldObjective:
    """The objective of ``fold``'s in-sample search, scored over growing sub-windows."""
    if periods is None:
        periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    if backtester is None:
        backtester = _Backtester(ohlcv, strategy, config.backtest, periods)
    windows = cumulative_subwindows(fold.is_start, fold.is_stop, n_steps=config.pruning_steps)
    return FoldObjective(
        suggest=lambda trial: _suggest(trial, strategy),
        evaluate=_FoldEvaluator(backtester, windows, config.objective, config.min_trades, periods),
    )


# ---------------------------------------------------------------------------------------------
# The study


def run_walk_forward(
    bars: pl.DataFrame,
    strategy: Strategy,
    config: WalkForwardConfig,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_prefix: str | None = None,
    progress: Callable[[WalkForwardProgress], None] | None = None,
    exclusive: bool = True,
    source: Mapping[str, Any] | None = None,
    heartbeat_interval: int = 30,
) -> WalkForwardResult:
    """Run (or resume) a walk-forward study of ``strategy`` on ``bars``.

    Args:
        bars: canonical bars (``timestamp`` UTC bar-open, ``open``..``volume``), sorted.
        strategy: the rule to optimize (``registry.get_strategy``).
        config: splits, budget, objective, costs; see ``WalkForwardConfig``.
        storage: Optuna storage: ``None`` (in memory), a SQLAlchemy URL, or a storage object
            such as ``JournalStorage`` (``storage.optuna_storage`` builds one from a string).
            Each fold is the study ``study_name(...)``; re-running identical inputs on the same
            storage resumes it, keeping its finished trials.
        study_prefix: replaces the strategy name at the front of the study names.
        progress: called after every batch of trials.
        exclusive: this call is the only worker on these studies: trials are sampled on an
            in-memory copy of each stored study and written to ``storage`` after every batch
            (several times faster on journal and SQLite storages; a kill loses at most the
            batch in flight), and trials left RUNNING by a killed earlier run are failed at
            once. Pass ``False`` when other processes may work on the same studies at the same
            time: every trial is then asked and told on the shared storage directly, and every
            fold's study is created before the first is optimized, so that workers
            (``study_workers.work_on_fold_study``) can join any of them.
        source: where a worker finds these bars (JSON-friendly, e.g. symbol and timeframe);
            stored with each shared fold study as its ``FOLD_STUDY_ATTR`` user attribute,
            beside the strategy, config, fold and data fingerprint.
        heartbeat_interval: seconds between heartbeats of running trials on RDB storages; a
            worker's trials are run again by the others after twice this long without one.

    Raises:
        ValueError: too few bars for the splits, bad bars, or a bad strategy/config.
    """
    started = time.perf_counter()
    if not isinstance(config, WalkForwardConfig):
        raise TypeError(f"config must be a WalkForwardConfig, got {type(config).__name__}")
    ohlcv = _checked_bars(bars)
    n_bars = len(ohlcv)
    folds = walk_forward_folds(ohlcv, config)
    periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    data_id = data_fingerprint(ohlcv)
    defaults = strategy.validate()
    backtester = _Backtester(ohlcv, strategy, config.backtest, periods)

    optuna_ask = optuna_storage = 0.0
    opened = time.perf_counter()
    names = [study_name(strategy, config, data_id, fold.fold, study_prefix) for fold in folds]
    spec = {
        "strategy": strategy.name,
        "config": config.as_dict(),
        "n_folds": len(folds),
        "data_fingerprint": data_id,
        "source": dict(source or {}),
    }

    def open_fold(fold: WalkForwardFold) -> _StudyPair:
        attrs = {**spec, "fold": fold.fold}
        pair = _StudyPair.open(
            storage, names[fold.fold], config, fold.fold, exclusive, attrs, heartbeat_interval
        )
        enqueue_params(pair.working, [defaults])
        return pair

    # Shared studies all exist from the start, so that workers can join any of them.
    pairs = {f.fold: open_fold(f) for f in folds} if storage is not None and not exclusive else {}
    optuna_storage += time.perf_counter() - opened
    fold_studies: list[_FoldStudy] = []
    for fold in folds:
        opened = time.perf_counter()
        fold_study = pairs.get(fold.fold) or open_fold(fold)
        optuna_storage += time.perf_counter() - opened
        objective = fold_objective(ohlcv, strategy, config, fold, backtester, periods)
        forward = _batch_callback(progress, fold.fold, len(folds))
        summary = optimize_batched(
            fold_study.working,
            objective.suggest,
            objective.evaluate,
            n_trials=config.n_trials,
            batch_size=config.batch_size,
            n_steps=config.pruning_steps,
            progress=fold_study.after_batch(forward),
        )
        fold_study.mark_done()
        study = fold_study.working
        optuna_storage += fold_study.persist_seconds
        optuna_ask += summary.sampling_seconds
        optuna_storage += summary.storage_seconds
        fetched = time.perf_counter()
        trials = study.get_trials(deepcopy=False)
        optuna_storage += time.perf_counter() - fetched
        is_sharpes = objective.evaluate.is_sharpes
        fold_studies.append(
            _FoldStudy(fold, names[fold.fold], trials, is_sharpes, summary.n_evaluated_here)
        )
        if progress is not None:
            progress(
                WalkForwardProgress(
                    fold.fold, len(folds), summary.n_finished, config.n_trials, summary.best_value
                )
            )

    result = _assemble(ohlcv, strategy, config, folds, fold_studies, backtester, periods)
    total = time.perf_counter() - started
    sampling = optuna_ask + optuna_storage
    result.summary.update(
        strategy=strategy.name,
        study_prefix=study_prefix or strategy.name,
        config=config.as_dict(),
        config_fingerprint=config.fingerprint(),
        data_fingerprint=data_id,
        n_bars=n_bars,
        periods_per_year=periods,
        timings={
            "sampling": sampling,
            "optuna_ask": optuna_ask,
            "optuna_storage": optuna_storage,
            "backtesting": backtester.seconds,
            "other": max(0.0, total - sampling - backtester.seconds),
            "total": total,
        },
    )
    return result


class _StudyPair:
    """A fold's study: where trials are sampled (``working``) and where they are kept.

    In exclusive mode with a persistent storage, trials are asked, reported and told on an
    in-memory copy of the stored study, and each finished batch is written to the storage in
    one ``add_trials`` call: one write per trial instead of about ten (ask, every suggested
    parameter, every intermediate value, pruning reads, tell), with a journal file's fsync
    on each. A killed run loses at most the batch in flight; the next run copies the stored
    trials back in and goes on. Without ``exclusive``, trials live directly in the shared
    storage so that concurrent workers see each other's trials at once.
    """

    def __init__(self, working: optuna.Study, persistent: optuna.Study | None) -> None:
        self.working = working
        self.persistent = persistent
        self.persist_seconds = 0.0
        self._persisted = len(working.get_trials(deepcopy=False))

    @classmethod
    def open(
        cls,
        storage: str | optuna.storages.BaseStorage | None,
        name: str,
        config: WalkForwardConfig,
        fold: int,
        exclusive: bool,
        attrs: Mapping[str, Any],
        heartbeat_interval: int = 30,
    ) -> _StudyPair:
        def opened(where: str | optuna.storages.BaseStorage | None) -> optuna.Study:
            return open_study(
                where,
                name,
                direction="maximize",
                seed=config.seed + fold,
                pruner=make_pruner(config.pruner, config.pruning_steps),
                heartbeat_interval=heartbeat_interval,
                fail_running_trials=exclusive,
            )

        if storage is None:
            return cls(opened(None), None)
        stored = opened(storage)
        if not exclusive:
            # Only shared studies invite workers: an exclusive run samples on its own copy.
            if FOLD_STUDY_ATTR not in stored.user_attrs:
                stored.set_user_attr(FOLD_STUDY_ATTR, dict(attrs))
            return cls(stored, None)
        persistent = stored
        working = opened(None)
        finished = [t for t in persistent.get_trials(deepcopy=False) if t.state.is_finished()]
        working.add_trials(finished)
        return cls(working, persistent)

    def after_batch(
        self, forward: Callable[[BatchProgress], None] | None
    ) -> Callable[[BatchProgress], None]:
        """The batch callback: persist the batch, then report progress."""

        def callback(batch: BatchProgress) -> None:
            self.persist()
            if forward is not None:
                forward(batch)

        return callback

    def mark_done(self) -> None:
        """Tell workers looking for open studies that this one has its trials."""
        stored = self.persistent or self.working
        if FOLD_STUDY_ATTR in stored.user_attrs:
            stored.set_user_attr(DONE_ATTR, True)

    def persist(self) -> None:
        """Write the working study's newly finished trials to the persistent storage."""
        if self.persistent is None:
            return
        started = time.perf_counter()
        fresh = []
        for trial in self.working.get_trials(deepcopy=False)[self._persisted :]:
            if not trial.state.is_finished():
                break  # Keep trial order (and numbers) aligned with the stored study.
            fresh.append(trial)
        if fresh:
            self.persistent.add_trials(fresh)
            self._persisted += len(fresh)
        self.persist_seconds += time.perf_counter() - started


@dataclass(frozen=True)
class _FoldStudy:
    fold: WalkForwardFold
    study_name: str
    trials: list[FrozenTrial]
    is_sharpes: dict[str, float]
    n_evaluated_here: int

    def complete(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state == TrialState.COMPLETE]

    def best(self) -> FrozenTrial | None:
        complete = self.complete()
        # Ties go to the earliest trial, as Optuna's own best_trial does.
        return max(complete, key=lambda t: (t.value, -t.number)) if complete else None

    def counts(self) -> dict[str, int]:
        return {
            "n_complete": sum(t.state == TrialState.COMPLETE for t in self.trials),
            "n_pruned": sum(t.state == TrialState.PRUNED for t in self.trials),
            "n_infeasible": sum(
                t.state == TrialState.FAIL and INFEASIBLE_ATTR in t.user_attrs for t in self.trials
            ),
        }


def _batch_callback(
    progress: Callable[[WalkForwardProgress], None] | None, fold: int, n_folds: int
) -> Callable[[BatchProgress], None] | None:
    if progress is None:
        return None

    def forward(batch: BatchProgress) -> None:
        progress(
            WalkForwardProgress(fold, n_folds, batch.n_finished, batch.n_trials, batch.best_value)
        )

    return forward


def _checked_bars(bars: pl.DataFrame | OHLCV) -> OHLCV:
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


# ---------------------------------------------------------------------------------------------
# Assembling results


def _assemble(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    folds: list[WalkForwardFold],
    studies: list[_FoldStudy],
    backtester: _Backtester,
    periods: float,
) -> WalkForwardResult:
    defaults = strategy.validate()
    chosen: list[dict[str, Any]] = []
    for fold_study in studies:
        best = fold_study.best()
        # No feasible trial in-sample: fall back to the documented defaults (best_value NaN).
        chosen.append(defaults if best is None else strategy.validate(_trial_params(best)))
    signals = backtester.signals(chosen)

    fold_rows: list[dict[str, Any]] = []
    equity_parts: list[dict[str, np.ndarray]] = []
    trade_parts: list[pd.DataFrame] = []
    init_cash = config.backtest.init_cash
    level = init_cash  # Equity at the start of the current fold's OOS window.
    for k, (fold, fold_study) in enumerate(zip(folds, studies, strict=True)):
        column = _select_columns(signals, [k])
        is_row = backtester.metrics(column, fold.is_start, fold.is_stop).iloc[0]
        flat = _flat_at(column, fold.oos_stop)
        oos_row = backtester.metrics(flat, fold.oos_start, fold.oos_stop).iloc[0]
        simulated = backtester.simulate(flat, fold.oos_start, fold.oos_stop)
        values = floor_at_ruin(simulated.values[:, 0])
        scale = level / init_cash
        equity_parts.append(
            {
                "timestamp": ohlcv.timestamp[fold.oos_start : fold.oos_stop],
                "equity": values * scale,
                "returns": returns_from_values(values[:, None], init_cash)[:, 0],
                "fold": np.full(fold.oos_bars, fold.fold, dtype=np.int64),
            }
        )
        trade_parts.append(_fold_trades(simulated.positions, ohlcv, fold, scale))
        level = float(values[-1]) * scale

        best = fold_study.best()
        row: dict[str, Any] = {
            "fold": fold.fold,
            "is_start": fold.is_first_time,
            "is_end": fold.is_last_time,
            "oos_start": fold.oos_first_time,
            "oos_end": fold.oos_last_time,
            "is_bars": fold.is_bars,
            "oos_bars": fold.oos_bars,
            "best_params": json.dumps(chosen[k], sort_keys=True),
            "best_value": math.nan if best is None else float(best.value),
            "best_trial": None if best is None else best.number,
        }
        for name in FOLD_METRICS:
            row[f"is_{name}"] = float(is_row[name])
            row[f"oos_{name}"] = float(oos_row[name])
        row["wf_efficiency"] = walk_forward_efficiency(
            float(is_row["cagr"]), float(oos_row["cagr"])
        )
        row.update(fold_study.counts())
        row["n_evaluated_here"] = fold_study.n_evaluated_here
        row["study_name"] = fold_study.study_name
        fold_rows.append(row)

    folds_frame = pl.DataFrame(fold_rows, schema_overrides={"best_trial": pl.Int64}).with_columns(
        pl.col(c).cast(pl.Datetime("ms", "UTC"))
        for c in ("is_start", "is_end", "oos_start", "oos_end")
    )
    equity = _equity_frame(equity_parts, init_cash)
    trades = _trades_frame(trade_parts)
    # IS Sharpes first: trials finished by an earlier run get theirs re-simulated, so the
    # trials table of a resumed study equals that of an uninterrupted one.
    trial_sharpes = _trial_is_sharpes(studies, backtester, periods)
    trials = _trials_frame(studies)

    stitched_returns = equity.get_column("returns").to_numpy()
    # Bars holding a position over all OOS bars (each fold's exposure weighted by its bars).
    exposure = float(
        (folds_frame["oos_exposure"] * folds_frame["oos_bars"]).sum()
        / folds_frame["oos_bars"].sum()
    )
    stitched = _stitched_metrics(equity, trades, init_cash, periods, exposure)
    wfe = folds_frame.get_column("wf_efficiency").to_numpy()
    finite_wfe = wfe[np.isfinite(wfe)]
    summary: dict[str, Any] = {
        **stitched,
        "oos": dict(stitched),
        "oos_start": _iso(folds[0].oos_first_time),
        "oos_end": _iso(folds[-1].oos_last_time),
        "n_folds": len(folds),
        "wf_efficiency": float(np.median(finite_wfe)) if finite_wfe.size else None,
        "param_stability": json_safe(parameter_stability(chosen, strategy.space)),
        "n_trials_total": len(trials),
        "n_trials_feasible": sum(
            c["n_complete"] + c["n_pruned"] for c in (s.counts() for s in studies)
        ),
        "n_evaluated_here": sum(s.n_evaluated_here for s in studies),
    }
    summary.update(_deflated_sharpe(stitched_returns, trial_sharpes, studies))
    summary.update(_pbo(studies, folds, backtester, config.seed))
    return WalkForwardResult(
        folds=folds_frame, equity=equity, trades=trades, trials=trials, summary=summary
    )


def _fold_trades(
    records: np.ndarray, ohlcv: OHLCV, fold: WalkForwardFold, scale: float
) -> pd.DataFrame:
    """One fold's OOS round trips (vectorbt position records) with UTC times and scaled money."""
    offset = fold.oos_start
    is_open = records["status"] == 0  # vectorbt's TradeStatus.Open
    return pd.DataFrame(
        {
            "fold": np.full(len(records), fold.fold, dtype=np.int64),
            "side": np.where(records["direction"] == 0, "long", "short"),
            "entry_time": ohlcv.timestamp[offset + records["entry_idx"]],
            "exit_time": np.where(is_open, -1, ohlcv.timestamp[offset + records["exit_idx"]]),
            "entry_price": records["entry_price"].astype(float),
            "exit_price": np.where(is_open, np.nan, records["exit_price"]),
            "size": records["size"] * scale,
            "fees": (records["entry_fees"] + records["exit_fees"]) * scale,
            "pnl": records["pnl"] * scale,
            "return": records["return"].astype(float),
            "status": np.where(is_open, "open", "closed"),
        }
    )


def _to_utc(column: pl.Expr) -> pl.Expr:
    return column.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _equity_frame(parts: list[dict[str, np.ndarray]], init_cash: float) -> pl.DataFrame:
    columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    # Stitched per-bar returns: each fold's first bar is measured against its own starting
    # cash, which is exactly the previous fold's final equity after chaining.
    equity = columns["equity"]
    peaks = np.maximum.accumulate(np.concatenate([[init_cash], equity]))[1:]
    drawdown = np.zeros_like(equity)
    np.divide(equity, peaks, out=drawdown, where=peaks > 0)
    drawdown -= 1.0
    return pl.DataFrame(
        {
            "timestamp": columns["timestamp"],
            "equity": equity,
            "returns": columns["returns"],
            "drawdown": drawdown,
            "fold": columns["fold"],
        }
    ).with_columns(_to_utc(pl.col("timestamp")))


TRADE_SCHEMA = {
    "fold": pl.Int64,
    "side": pl.String,
    "entry_time": pl.Datetime("ms", "UTC"),
    "exit_time": pl.Datetime("ms", "UTC"),
    "entry_price": pl.Float64,
    "exit_price": pl.Float64,
    "size": pl.Float64,
    "fees": pl.Float64,
    "pnl": pl.Float64,
    "return": pl.Float64,
    "status": pl.String,
}


def _trades_frame(parts: list[pd.DataFrame]) -> pl.DataFrame:
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return pl.DataFrame(schema=TRADE_SCHEMA)
    out = pl.from_pandas(frame)
    return out.with_columns(
        _to_utc(pl.col("entry_time")),
        _to_utc(pl.when(pl.col("exit_time") >= 0).then(pl.col("exit_time"))).alias("exit_time"),
    ).select(list(TRADE_SCHEMA))


def _trials_frame(studies: list[_FoldStudy]) -> pl.DataFrame:
    rows = []
    for fold_study in studies:
        for trial in fold_study.trials:
            params = _trial_params(trial)
            rows.append(
                {
                    "fold": fold_study.fold.fold,
                    "number": trial.number,
                    "state": trial.state.name,
                    "value": math.nan if trial.value is None else float(trial.value),
                    "params": json.dumps(params, sort_keys=True),
                    "infeasible": INFEASIBLE_ATTR in trial.user_attrs,
                    "last_step": trial.last_step,
                    "is_sharpe_per_bar": fold_study.is_sharpes.get(_params_key(params))
                    if trial.state == TrialState.COMPLETE
                    else None,
                }
            )
    schema = {
        "fold": pl.Int64,
        "number": pl.Int64,
        "state": pl.String,
        "value": pl.Float64,
        "params": pl.String,
        "infeasible": pl.Boolean,
        "last_step": pl.Int64,
        "is_sharpe_per_bar": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def _stitched_metrics(
    equity: pl.DataFrame, trades: pl.DataFrame, init_cash: float, periods: float, exposure: float
) -> dict[str, Any]:
    values = equity.get_column("equity").to_numpy()
    metrics = {
        k: float(v[0]) for k, v in return_metrics(values[:, None], init_cash, periods).items()
    }
    closed = trades.filter(pl.col("status") == "closed")
    pnl = closed.get_column("pnl").to_numpy()
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())
    metrics.update(
        trade_count=float(trades.height),
        win_rate=float((pnl > 0).mean()) if pnl.size else 0.0,
        profit_factor=(gross_profit / gross_loss)
        if gross_loss > 0
        else (math.inf if gross_profit > 0 else 0.0),
        average_trade_return=float(closed.get_column("return").mean() or 0.0)
        if closed.height
        else 0.0,
        exposure=exposure,
        final_equity=float(values[-1]),
        oos_bars=int(values.size),
    )
    return json_safe({k: metrics[k] for k in (*SUMMARY_METRICS, "final_equity", "oos_bars")})


def _deflated_sharpe(
    returns: np.ndarray, trial_sharpes: np.ndarray, studies: list[_FoldStudy]
) -> dict[str, Any]:
    n_feasible = sum(c["n_complete"] + c["n_pruned"] for c in (s.counts() for s in studies))
    try:
        result = deflated_sharpe_ratio_from_returns(
            returns, trial_sharpes, n_trials=max(1, n_feasible)
        )
    except ValueError as exc:
        return {"deflated_sharpe_ratio": None, "deflated_sharpe": {"error": str(exc)}}
    details = dataclasses.asdict(result)
    return {
        "deflated_sharpe_ratio": finite_or_none(result.deflated_sharpe_ratio),
        "deflated_sharpe": json_safe(details),
    }


def _trial_is_sharpes(
    studies: list[_FoldStudy], backtester: _Backtester, periods: float
) -> np.ndarray:
    """Per-bar IS Sharpe of every complete trial; trials from an earlier run are re-simulated."""
    sharpes: list[float] = []
    for fold_study in studies:
        missing: dict[str, dict[str, Any]] = {}
        for trial in fold_study.complete():
            params = _trial_params(trial)
            key = _params_key(params)
            if key in fold_study.is_sharpes:
                sharpes.append(fold_study.is_sharpes[key])
            else:
                missing.setdefault(key, params)
        if missing:
            fold = fold_study.fold
            signals = backtester.signals(list(missing.values()))
            table = backtester.metrics(signals, fold.is_start, fold.is_stop)
            per_bar = table["sharpe_ratio"].to_numpy(dtype=float) / math.sqrt(periods)
            for key, value in zip(missing, per_bar, strict=True):
                fold_study.is_sharpes[key] = float(value)
            counts = Counter(_params_key(_trial_params(t)) for t in fold_study.complete())
            sharpes.extend(fold_study.is_sharpes[k] for k in missing for _ in range(counts[k]))
    return np.asarray(sharpes, dtype=float)


def _pbo(
    studies: list[_FoldStudy], folds: list[WalkForwardFold], backtester: _Backtester, seed: int
) -> dict[str, Any]:
    distinct: dict[str, dict[str, Any]] = {}
    for fold_study in studies:
        for trial in fold_study.complete():
            params = _trial_params(trial)
            distinct.setdefault(_params_key(params), params)
    keys = sorted(distinct)
    if len(keys) > PBO_MAX_CONFIGURATIONS:
        picked = np.random.default_rng(seed).choice(
            len(keys), PBO_MAX_CONFIGURATIONS, replace=False
        )
        keys = [keys[i] for i in sorted(picked)]
    start, stop = folds[0].is_start, folds[-1].oos_stop
    details: dict[str, Any] = {
        "n_configurations": len(keys),
        "n_partitions": PBO_PARTITIONS,
        "start_index": start,
        "stop_index": stop,
    }
    if len(keys) < 2:
        details["error"] = "fewer than 2 distinct complete parameter sets"
        return {"pbo": None, "pbo_details": details}
    signals = backtester.signals([distinct[k] for k in keys])
    simulated = backtester.simulate(signals, start, stop)
    returns = returns_from_values(floor_at_ruin(simulated.values), simulated.init_cash)
    try:
        result = probability_of_backtest_overfitting(returns, n_partitions=PBO_PARTITIONS)
    except ValueError as exc:
        details["error"] = str(exc)
        return {"pbo": None, "pbo_details": details}
    details.update(n_combinations=result.n_combinations, n_rows_used=result.n_rows_used)
    return {"pbo": float(result.pbo), "pbo_details": details}


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()
