"""Parameters of trials: drawn from a strategy's space, repaired to satisfy its constraints."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from maestro_pipeline.engine.strategy import (
    CategoricalParam,
    FloatParam,
    IntParam,
    ParameterError,
    Strategy,
)

# User attribute holding the parameters a trial was actually evaluated with, when they differ
# from what the sampler suggested (see ``repair_order``).
EVALUATED_PARAMS_ATTR = "evaluated_params"


def suggest_params(trial: optuna.Trial, strategy: Strategy) -> dict[str, Any]:
    """Draw every parameter of ``strategy``'s space; repair crossed ordering constraints."""
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
    evaluated = repair_order(strategy, raw)
    if evaluated != raw:
        trial.set_user_attr(EVALUATED_PARAMS_ATTR, evaluated)
    return evaluated


def repair_order(strategy: Strategy, params: dict[str, Any]) -> dict[str, Any]:
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


def is_invalid(strategy: Strategy, params: Mapping[str, Any]) -> bool:
    """Whether ``params`` break the strategy's space or constraints."""
    try:
        strategy.validate(params)
    except ParameterError:
        return True
    return False


def params_key(params: Mapping[str, Any]) -> str:
    """A canonical string of a parameter set (equal sets, equal keys)."""
    return json.dumps(params, sort_keys=True, default=str)


def trial_params(trial: FrozenTrial) -> dict[str, Any]:
    """The parameters a trial was evaluated with."""
    return dict(trial.user_attrs.get(EVALUATED_PARAMS_ATTR, trial.params))
