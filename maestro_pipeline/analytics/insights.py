"""Optuna insights as data for the UI: optimization history and parameter importances per fold."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import optuna
import polars as pl
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

MIN_TRIALS_FOR_IMPORTANCE = 8


def _distributions(params: list[dict[str, Any]]) -> dict[str, BaseDistribution]:
    """Distributions spanning the values the trials actually took."""
    out: dict[str, BaseDistribution] = {}
    for name in sorted({k for p in params for k in p}):
        values = [p[name] for p in params if name in p]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and all(isinstance(v, int) for v in values):
            out[name] = IntDistribution(min(values), max(values))
        elif numeric:
            out[name] = FloatDistribution(float(min(values)), float(max(values)))
        else:
            out[name] = CategoricalDistribution(sorted(set(values), key=str))
    return out


def _importances(fold_trials: pl.DataFrame) -> dict[str, float]:
    complete = fold_trials.filter((pl.col("state") == "COMPLETE") & pl.col("value").is_finite())
    if complete.height < MIN_TRIALS_FOR_IMPORTANCE:
        return {}
    params = [json.loads(p) for p in complete.get_column("params")]
    distributions = _distributions(params)
    varying = {n: d for n, d in distributions.items() if not d.single()}
    if not varying:
        return {}
    study = optuna.create_study(direction="maximize")
    for values, value in zip(params, complete.get_column("value"), strict=True):
        trial_params = {
            k: (float(v) if isinstance(varying.get(k), FloatDistribution) else v)
            for k, v in values.items()
            if k in varying
        }
        study.add_trial(
            optuna.trial.create_trial(params=trial_params, distributions=varying, value=value)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # PED-ANOVA (Watanabe et al. 2023): closed-form, ~70x faster than fANOVA's random
        # forest on a fold's 100 trials, and it ranks parameters alike.
        scores = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    return {name: float(score) for name, score in scores.items()}


def optuna_insights(trials: pl.DataFrame) -> dict[str, Any]:
    """History (value and best-so-far per trial) and PED-ANOVA importances, per fold and overall."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds = []
    overall: dict[str, list[float]] = {}
    for (fold,), fold_trials in trials.sort("fold", "number").group_by("fold", maintain_order=True):
        best = -math.inf
        history = []
        for row in fold_trials.iter_rows(named=True):
            value = row["value"]
            finite = value is not None and math.isfinite(value)
            if finite and row["state"] == "COMPLETE":
                best = max(best, value)
            history.append(
                {
                    "number": row["number"],
                    "state": row["state"],
                    "value": value if finite else None,
                    "best_so_far": best if math.isfinite(best) else None,
                }
            )
        importances = _importances(fold_trials)
        for name, score in importances.items():
            overall.setdefault(name, []).append(score)
        folds.append({"fold": fold, "history": history, "importances": importances})
    n_folds = max(len(folds), 1)
    mean_importance = {name: sum(scores) / n_folds for name, scores in sorted(overall.items())}
    return {
        "folds": folds,
        "importances": dict(sorted(mean_importance.items(), key=lambda kv: -kv[1])),
        "evaluator": "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)",
    }
