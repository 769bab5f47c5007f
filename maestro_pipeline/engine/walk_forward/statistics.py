"""Selection-bias statistics of a walk-forward study.

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
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from maestro_pipeline.engine.metrics import (
    finite_or_none,
    floor_at_ruin,
    json_safe,
    returns_from_values,
)
from maestro_pipeline.engine.overfitting import (
    deflated_sharpe_ratio_from_returns,
    probability_of_backtest_overfitting,
)
from maestro_pipeline.engine.splits import WalkForwardFold
from maestro_pipeline.engine.strategy import FloatParam, IntParam
from maestro_pipeline.engine.walk_forward.objective import Backtester
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.params import params_key, trial_params

PBO_MAX_CONFIGURATIONS = 200
PBO_PARTITIONS = 16


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


def n_feasible_trials(outcomes: Sequence[FoldOutcome]) -> int:
    """Trials of every fold that were scored (complete or pruned)."""
    return sum(c["n_complete"] + c["n_pruned"] for c in (o.counts() for o in outcomes))


def deflated_sharpe_summary(
    returns: np.ndarray, trial_sharpes: np.ndarray, outcomes: Sequence[FoldOutcome]
) -> dict[str, Any]:
    """``deflated_sharpe_ratio`` and its details for the summary (an error instead of a crash)."""
    try:
        result = deflated_sharpe_ratio_from_returns(
            returns, trial_sharpes, n_trials=max(1, n_feasible_trials(outcomes))
        )
    except ValueError as exc:
        return {"deflated_sharpe_ratio": None, "deflated_sharpe": {"error": str(exc)}}
    return {
        "deflated_sharpe_ratio": finite_or_none(result.deflated_sharpe_ratio),
        "deflated_sharpe": json_safe(dataclasses.asdict(result)),
    }


def trial_is_sharpes(
    outcomes: Sequence[FoldOutcome], backtester: Backtester, periods: float
) -> np.ndarray:
    """Per-bar IS Sharpe of every complete trial; trials from an earlier run are re-simulated."""
    sharpes: list[float] = []
    for outcome in outcomes:
        missing: dict[str, dict[str, Any]] = {}
        for trial in outcome.complete():
            params = trial_params(trial)
            key = params_key(params)
            if key in outcome.is_sharpes:
                sharpes.append(outcome.is_sharpes[key])
            else:
                missing.setdefault(key, params)
        if missing:
            fold = outcome.fold
            signals = backtester.signals(list(missing.values()))
            table = backtester.metrics(signals, fold.is_start, fold.is_stop)
            per_bar = table["sharpe_ratio"].to_numpy(dtype=float) / math.sqrt(periods)
            for key, value in zip(missing, per_bar, strict=True):
                outcome.is_sharpes[key] = float(value)
            counts = Counter(params_key(trial_params(t)) for t in outcome.complete())
            sharpes.extend(outcome.is_sharpes[k] for k in missing for _ in range(counts[k]))
    return np.asarray(sharpes, dtype=float)


def pbo_summary(
    outcomes: Sequence[FoldOutcome],
    folds: Sequence[WalkForwardFold],
    backtester: Backtester,
    seed: int,
) -> dict[str, Any]:
    """``pbo`` and its details over the distinct complete parameter sets of every fold."""
    distinct: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        for trial in outcome.complete():
            params = trial_params(trial)
            distinct.setdefault(params_key(params), params)
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
