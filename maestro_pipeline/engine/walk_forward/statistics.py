"""Selection-bias statistics of a study (walk-forward folds or cpcv splits alike).

* ``wf_efficiency`` (Pardo): per fold, the annualized OOS return (CAGR) divided by the
  annualized IS return of the chosen parameters; undefined (NaN) when the IS return is not
  positive, because the ratio then has no meaning. The summary holds the median of the
  defined folds.
* ``param_stability``: per parameter, the coefficient of variation (population standard
  deviation / |mean|) of the fold winners for numbers, lower is steadier; the share of folds
  that chose the most frequent value for categoricals, higher is steadier.
* ``deflated_sharpe_ratio`` (Bailey & López de Prado 2014): the probability that the true
  Sharpe of the stitched OOS returns (per bar, with their skewness and kurtosis, over all OOS
  bars) exceeds SR0, the Sharpe that the best of the searches' trials would show by luck
  alone. SR0 is estimated where each selection happened, search by search (a walk-forward
  fold or a cpcv split), on the data that search scored:

  - ``V_k = 1 / (T_k − 1)``: the variance of a per-bar Sharpe estimated over search
    ``k``'s ``T_k`` in-sample bars when its true value is 0 (Lo 2002; the PSR's variance
    term at SR = 0), which is the DSR's null hypothesis: every trial is skill-less. The
    paper plugs in the variance of the trials' estimated Sharpes instead. Pooled over folds,
    that variance mixes the folds' different markets in and puts SR0 above any OOS Sharpe a
    real strategy shows (the DSR reads ~0 for every study). Even per search it measures two
    things the null has no room for: real differences between parameter sets (a space with
    good and bad regions would raise the hurdle of a real edge: a planted trend that
    ema_cross catches read DSR 0.04) and the trials' correlation (neighbouring sets share
    their estimation error, which shrinks it and lowers the hurdle, counted a second time by
    ``N_eff``). The null variance counts the correlation once, in ``N_eff``. The empirical
    per-search variance is still reported (``trial_sharpe_variance``).
  - ``N_k``: search ``k``'s feasible trials (complete or pruned), counted as
    ``N_eff = ρ + (1 − ρ) N_k`` independent trials, with ``ρ`` the average pairwise
    correlation of the per-bar returns, over search ``k``'s IS bars, of the distinct
    parameter sets it tried (those of the PBO sample below; a search with fewer than two
    sampled sets takes the median ``ρ`` of the others). Neighbouring parameter sets trade
    nearly alike, so a hundred trials are far fewer independent tries: the paper's own
    caution against counting correlated trials at face value.
  - ``SR0_k = E[max]`` of ``N_eff`` zero-skill Sharpes of variance ``V_k``, and the study's
    SR0 is the average of the ``SR0_k`` weighted by each search's OOS bars, the share of
    the stitched curve that selection produced.

  Deflating an OOS Sharpe by the IS selection is conservative (OOS returns are not themselves
  selected), which is what a hurdle should be: the OOS result must beat what the luckiest IS
  trial would show with no skill at all. Details, per search, under ``deflated_sharpe``.
* ``pbo`` (CSCV, Bailey, Borwein, López de Prado & Zhu): up to ``PBO_MAX_CONFIGURATIONS``
  distinct complete parameter sets (a seeded random sample when there are more) are simulated
  over the whole study span (walk-forward: first IS bar to last OOS bar; cpcv: every bar) in
  one batched call; their per-bar returns form the T x N matrix, cut into S = 16 blocks. One
  common span for all configurations is what CSCV needs; fold-specific windows would not be
  comparable columns.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from maestro_pipeline.engine.metrics import (
    finite_or_none,
    floor_at_ruin,
    json_safe,
    returns_from_values,
)
from maestro_pipeline.engine.overfitting import (
    average_correlation,
    effective_trials,
    expected_maximum_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)
from maestro_pipeline.engine.strategy import FloatParam, IntParam
from maestro_pipeline.engine.walk_forward.objective import Backtester, FoldEvaluator
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


def fill_is_sharpes(outcome: FoldOutcome, evaluate: FoldEvaluator) -> None:
    """Score the complete trials that lack an IS Sharpe (finished by an earlier run).

    The search's own evaluator scores them on the whole in-sample window (its last pruning
    step), exactly as it scored this run's trials, so the trials table of a resumed study
    equals that of an uninterrupted one.
    """
    missing: dict[str, dict[str, Any]] = {}
    for trial in outcome.complete():
        params = trial_params(trial)
        key = params_key(params)
        if key not in outcome.is_sharpes:
            missing.setdefault(key, params)
    if missing:
        evaluate(list(missing.values()), len(evaluate.windows) - 1)
        outcome.is_sharpes.update(evaluate.is_sharpes)


def fold_trial_sharpes(outcome: FoldOutcome) -> np.ndarray:
    """Per-bar IS Sharpe of every complete trial of one search (repeated parameters repeat)."""
    values = [outcome.is_sharpes.get(params_key(trial_params(t))) for t in outcome.complete()]
    return np.asarray([math.nan if v is None else v for v in values], dtype=float)


def trial_is_sharpes(outcomes: Sequence[FoldOutcome]) -> np.ndarray:
    """Per-bar IS Sharpe of every complete trial of every search."""
    parts = [fold_trial_sharpes(o) for o in outcomes]
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True)
class TrialReturns:
    """Per-bar returns of a sample of the study's distinct complete parameter sets.

    ``returns`` has one row per bar of ``[start, stop)`` and one column per ``keys`` entry;
    ``owners[j]`` are the searches (fold or split numbers) whose complete trials include
    column ``j``'s parameters. ``n_distinct`` counts every distinct complete set, sampled or
    not.
    """

    keys: list[str]
    returns: np.ndarray
    start: int
    stop: int
    owners: list[frozenset[int]]
    n_distinct: int


def trial_returns(
    outcomes: Sequence[FoldOutcome],
    start: int,
    stop: int,
    backtester: Backtester,
    seed: int,
) -> TrialReturns:
    """Simulate up to ``PBO_MAX_CONFIGURATIONS`` distinct complete parameter sets over
    ``[start, stop)`` in one batched call (a seeded random sample when there are more)."""
    distinct: dict[str, dict[str, Any]] = {}
    owners: dict[str, set[int]] = {}
    for outcome in outcomes:
        for trial in outcome.complete():
            params = trial_params(trial)
            key = params_key(params)
            distinct.setdefault(key, params)
            owners.setdefault(key, set()).add(outcome.fold.fold)
    keys = sorted(distinct)
    n_distinct = len(keys)
    if len(keys) > PBO_MAX_CONFIGURATIONS:
        picked = np.random.default_rng(seed).choice(
            len(keys), PBO_MAX_CONFIGURATIONS, replace=False
        )
        keys = [keys[i] for i in sorted(picked)]
    if len(keys) < 2:
        returns = np.zeros((stop - start, 0))
    else:
        signals = backtester.signals([distinct[k] for k in keys])
        simulated = backtester.simulate(signals, start, stop)
        returns = returns_from_values(floor_at_ruin(simulated.values), simulated.init_cash)
    return TrialReturns(
        keys=keys if len(keys) >= 2 else [],
        returns=returns,
        start=start,
        stop=stop,
        owners=[frozenset(owners[k]) for k in keys] if len(keys) >= 2 else [],
        n_distinct=n_distinct,
    )


def deflated_sharpe_summary(
    returns: np.ndarray,
    outcomes: Sequence[FoldOutcome],
    sampled: TrialReturns,
    in_sample_rows: Sequence[np.ndarray],
    oos_bars: Sequence[int],
) -> dict[str, Any]:
    """``deflated_sharpe_ratio`` of the stitched OOS returns and its details (see the module
    docstring); an error in the details instead of a crash."""
    folds = []
    for outcome, rows in zip(outcomes, in_sample_rows, strict=True):
        sharpes = fold_trial_sharpes(outcome)
        sharpes = sharpes[np.isfinite(sharpes)]
        counts = outcome.counts()
        columns = [j for j, owner in enumerate(sampled.owners) if outcome.fold.fold in owner]
        inside = rows[(rows >= sampled.start) & (rows < sampled.stop)] - sampled.start
        correlation = (
            average_correlation(sampled.returns[inside][:, columns])
            if len(columns) >= 2
            else math.nan
        )
        folds.append(
            {
                "fold": outcome.fold.fold,
                "n_trials": counts["n_complete"] + counts["n_pruned"],
                "is_bars": int(rows.size),
                # Under the null every trial's true Sharpe is 0, and its estimate over T bars
                # varies by 1 / (T - 1) (Lo 2002; the PSR's variance term at SR = 0).
                "null_sharpe_variance": 1.0 / max(1, rows.size - 1),
                "trial_sharpe_variance": float(sharpes.var(ddof=1)) if sharpes.size > 1 else 0.0,
                "n_correlated": len(columns),
                "average_correlation": correlation,
            }
        )
    measured = [f["average_correlation"] for f in folds if math.isfinite(f["average_correlation"])]
    # A search with fewer than two sampled parameter sets borrows the others' median: the
    # correlation of a strategy's parameter sets is mostly a property of the strategy.
    fallback = float(np.median(measured)) if measured else 0.0
    weights = np.asarray(oos_bars, dtype=float)
    weights = weights / weights.sum()
    for fold, weight in zip(folds, weights, strict=True):
        rho = fold["average_correlation"]
        rho = fallback if not math.isfinite(rho) else rho
        fold["effective_trials"] = effective_trials(max(1, fold["n_trials"]), rho)
        fold["expected_max_sharpe"] = expected_maximum_sharpe(
            fold["effective_trials"], fold["null_sharpe_variance"]
        )
        fold["weight"] = float(weight)
    benchmark = float(sum(f["expected_max_sharpe"] * f["weight"] for f in folds))
    values = np.asarray(returns, dtype=float)
    values = values[np.isfinite(values)]
    sharpe = sharpe_ratio(values)
    details: dict[str, Any] = {
        "method": "per_search_null_variance_effective_trials",
        "expected_max_sharpe": benchmark,
        "n_obs": int(values.size),
        "n_trials": n_feasible_trials(outcomes),
        "effective_trials": float(sum(f["effective_trials"] * f["weight"] for f in folds)),
        "null_sharpe_variance": float(sum(f["null_sharpe_variance"] * f["weight"] for f in folds)),
        "trial_sharpe_variance": float(
            sum(f["trial_sharpe_variance"] * f["weight"] for f in folds)
        ),
        "folds": folds,
    }
    if math.isnan(sharpe):
        details["error"] = "the returns have fewer than 2 finite values or zero variance"
        return {"deflated_sharpe_ratio": None, "deflated_sharpe": json_safe(details)}
    skewness = float(stats.skew(values))
    kurtosis = float(stats.kurtosis(values, fisher=False))
    try:
        dsr = probabilistic_sharpe_ratio(sharpe, values.size, skewness, kurtosis, benchmark)
    except ValueError as exc:
        details["error"] = str(exc)
        return {"deflated_sharpe_ratio": None, "deflated_sharpe": json_safe(details)}
    details.update(deflated_sharpe_ratio=dsr, sharpe=sharpe, skewness=skewness,
                   kurtosis=kurtosis)  # fmt: skip
    return {
        "deflated_sharpe_ratio": finite_or_none(dsr),
        "deflated_sharpe": json_safe(details),
    }


def pbo_summary(sampled: TrialReturns) -> dict[str, Any]:
    """``pbo`` and its details over the sampled distinct complete parameter sets."""
    details: dict[str, Any] = {
        "n_configurations": len(sampled.keys) if sampled.keys else min(sampled.n_distinct, 1),
        "n_partitions": PBO_PARTITIONS,
        "start_index": sampled.start,
        "stop_index": sampled.stop,
    }
    if len(sampled.keys) < 2:
        details["error"] = "fewer than 2 distinct complete parameter sets"
        return {"pbo": None, "pbo_details": details}
    try:
        result = probability_of_backtest_overfitting(sampled.returns, n_partitions=PBO_PARTITIONS)
    except ValueError as exc:
        details["error"] = str(exc)
        return {"pbo": None, "pbo_details": details}
    details.update(n_combinations=result.n_combinations, n_rows_used=result.n_rows_used)
    return {"pbo": float(result.pbo), "pbo_details": details}
