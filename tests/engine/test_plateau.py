"""Plateau scores, importance and heatmap data from trials with a known objective surface."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import create_trial

from maestro_pipeline.engine.splits import WalkForwardFold
from maestro_pipeline.engine.strategy import CategoricalParam, IntParam
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.plateau import (
    epsilon_squared,
    heatmap,
    importance,
    plateau_summary,
    search_plateau,
)

SPACE = {
    "a": IntParam(0, 100, default=50),
    "b": IntParam(0, 100, default=50),
    "kind": CategoricalParam(("x", "y"), default="x"),
}
DISTRIBUTIONS = {
    "a": IntDistribution(0, 100),
    "b": IntDistribution(0, 100),
    "kind": CategoricalDistribution(("x", "y")),
}


def outcome(surface, fold=0, n=300, seed=0) -> FoldOutcome:
    """A search whose complete trials score ``surface(a, b, kind)`` on random points."""
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(n):
        params = {"a": int(rng.integers(0, 101)), "b": int(rng.integers(0, 101)),
                  "kind": ("x", "y")[int(rng.integers(0, 2))]}  # fmt: skip
        trial = create_trial(params=params, distributions=DISTRIBUTIONS,
                             value=float(surface(**params)))  # fmt: skip
        trial.number = number
        trials.append(trial)
    window = WalkForwardFold(fold, 0, 10, 10, 20)
    return FoldOutcome(window, f"study-{fold}", trials, {}, n)


def plateau(a, b, kind):
    # A broad hill around a = 50: within +-10 of it the objective barely moves.
    return -(((a - 50) / 50) ** 2)


def spike(a, b, kind):
    # One lucky point far above a flat landscape.
    return 5.0 if (a, b, kind) == (37, 61, "x") else 0.01 * ((a * 7919 + b * 104729) % 13)


def test_a_broad_hill_scores_near_one_and_a_spike_zero():
    broad = search_plateau(outcome(plateau), SPACE)
    assert broad["score"] > 0.9 and broad["n_neighbours"] >= 3
    spiky = outcome(spike)
    spiky.trials[0].params.update(a=37, b=61, kind="x")
    spiky.trials[0].value = 5.0
    # Neighbours of the spike exist but score like any other trial.
    result = search_plateau(spiky, SPACE)
    assert result["best_value"] == 5.0 and result["n_neighbours"] >= 3
    assert result["score"] < 0.2


def test_score_definition_on_a_hand_made_search():
    # Best 10, median of all 2, neighbours' median 6: (6 - 2) / (10 - 2) = 0.5.
    values = {(50, 50): 10.0, (52, 50): 6.0, (50, 53): 6.0, (48, 49): 5.0, (47, 52): 7.0,
              (0, 0): 2.0, (100, 0): 2.0, (0, 100): 1.0, (100, 100): 0.0, (20, 80): 2.0,
              (80, 20): 1.0}  # fmt: skip
    trials = [
        create_trial(params={"a": a, "b": b, "kind": "x"}, distributions=DISTRIBUTIONS, value=v)
        for (a, b), v in values.items()
    ]
    search = FoldOutcome(WalkForwardFold(0, 0, 10, 10, 20), "s", trials, {}, len(trials))
    result = search_plateau(search, SPACE)
    assert result["n_neighbours"] == 4
    assert result["trials_median"] == 2.0 and result["neighbours_median"] == 6.0
    assert result["score"] == pytest.approx(0.5)


def test_too_few_neighbours_leave_the_score_undefined():
    trials = [
        create_trial(
            params={"a": a, "b": a, "kind": "x"}, distributions=DISTRIBUTIONS, value=float(a)
        )
        for a in (0, 30, 60, 90, 95)
    ]
    search = FoldOutcome(WalkForwardFold(0, 0, 10, 10, 20), "s", trials, {}, 5)
    assert search_plateau(search, SPACE)["score"] is None


def test_epsilon_squared_known_answers():
    groups = np.repeat([0, 1, 2, 3], 50)
    assert epsilon_squared(groups, groups.astype(float)) == 1.0
    noise = np.random.default_rng(0).normal(size=200)
    assert epsilon_squared(groups, noise) < 0.05
    assert math.isnan(epsilon_squared(np.zeros(10), noise[:10]))


def test_importance_ranks_the_parameter_that_moves_the_objective():
    searches = [outcome(plateau, fold=k, seed=k) for k in range(3)]
    ranked = importance(searches, SPACE)
    assert next(iter(ranked)) == "a" and ranked["a"] > 0.8
    assert ranked["b"] < 0.05 and ranked["kind"] < 0.05


def test_heatmap_counts_every_trial_once_and_averages_cells():
    searches = [outcome(plateau, fold=k, seed=k, n=120) for k in range(2)]
    grid = heatmap(searches, SPACE, ("a", "kind"))
    counts = np.asarray(grid["counts"])
    assert counts.shape == (2, 12) and counts.sum() == 240
    assert grid["y"]["categories"] == ["x", "y"]
    assert grid["x"]["edges"][0] == 0 and grid["x"]["edges"][-1] == 100
    values = np.asarray(grid["values"], dtype=float)
    # The middle columns (a near 50) hold the hill's top.
    assert np.nanargmax(np.nanmean(values, axis=0)) in (5, 6)
    assert [c["fold"] for c in grid["chosen"]] == [0, 1]


def test_summary_is_json_ready_with_the_two_most_important_axes():
    searches = [outcome(plateau, fold=k, seed=k) for k in range(3)]
    summary = plateau_summary(searches, SPACE, "sharpe_ratio")
    assert summary["score"] > 0.9 and summary["n_scored"] == 3
    assert summary["heatmap"]["x"]["name"] == "a"
    assert all(v is None or math.isfinite(v) for row in summary["heatmap"]["values"] for v in row)
