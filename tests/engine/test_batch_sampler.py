"""BatchTPESampler: Optuna's TPE densities, one fit per batch, seeded and resumable studies."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from maestro_pipeline.engine.walk_forward import sampler as batch_sampler
from maestro_pipeline.engine.walk_forward.batched import enqueue_params, optimize_batched
from maestro_pipeline.engine.walk_forward.parzen import KernelSettings, ParzenEstimator, Space
from maestro_pipeline.engine.walk_forward.pruning import MedianPruner
from maestro_pipeline.engine.walk_forward.sampler import BatchTPESampler
from maestro_pipeline.optimization.studies import open_study

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "fast": IntDistribution(2, 100),
    "slow": IntDistribution(5, 400),
    "kind": CategoricalDistribution(("ema", "sma")),
    "width": FloatDistribution(0.5, 4.0, step=0.25),
    "level": FloatDistribution(5.0, 50.0),
    "window": IntDistribution(1, 1000, log=True),
    "rate": FloatDistribution(1e-3, 1.0, log=True),
}


def suggest(trial: optuna.Trial) -> dict:
    return {
        "fast": trial.suggest_int("fast", 2, 100),
        "slow": trial.suggest_int("slow", 5, 400),
        "kind": trial.suggest_categorical("kind", ["ema", "sma"]),
    }


def score(params_list: list[dict], step: int) -> np.ndarray:
    """A peak at fast=20, slow=120, ema, blurred by a step-dependent deterministic wobble."""
    return np.array(
        [
            -abs(p["fast"] - 20)
            - abs(p["slow"] - 120) / 4
            - 5 * (p["kind"] == "sma")
            + 8 * np.sin(1.7 * p["fast"] + 0.3 * p["slow"] + step)
            for p in params_list
        ],
        dtype=float,
    )


def signature(study: optuna.Study) -> list[tuple]:
    return [
        (
            t.number,
            t.state,
            t.value,
            sorted(t.params.items()),
            sorted(t.intermediate_values.items()),
        )
        for t in study.get_trials(deepcopy=False)
    ]


def run(study: optuna.Study, n_trials: int = 100) -> optuna.Study:
    optimize_batched(study, suggest, score, n_trials, batch_size=25, n_steps=3)
    return study


def study(seed: int, name: str = "s") -> optuna.Study:
    return open_study(None, name, seed=seed, pruner=MedianPruner(n_startup_trials=5))


def random_observations(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    columns = {}
    for name, dist in SPACE.items():
        if isinstance(dist, CategoricalDistribution):
            columns[name] = rng.integers(0, len(dist.choices), n).astype(float)
        elif isinstance(dist, IntDistribution) and dist.log:
            logs = rng.uniform(np.log(dist.low), np.log(dist.high), n)
            columns[name] = np.exp(logs).round().clip(dist.low, dist.high)
        elif isinstance(dist, IntDistribution):
            columns[name] = rng.integers(dist.low, dist.high + 1, n).astype(float)
        elif dist.step:
            grid = np.arange(dist.low, dist.high + dist.step / 2, dist.step)
            columns[name] = rng.choice(grid, n)
        elif dist.log:
            columns[name] = np.exp(rng.uniform(np.log(dist.low), np.log(dist.high), n))
        else:
            columns[name] = rng.uniform(dist.low, dist.high, n)
    return columns


@pytest.mark.parametrize("n", [0, 1, 2, 3, 30, 120])
def test_densities_equal_optunas_parzen_estimator(n):
    # Optuna's estimator is private: this pins the reimplementation to the installed release.
    from optuna.samplers._tpe.parzen_estimator import (
        _ParzenEstimator,
        _ParzenEstimatorParameters,
    )

    rng = np.random.default_rng(n)
    observations = random_observations(rng, n)
    weights = batch_sampler.default_weights
    theirs = _ParzenEstimator(
        observations, SPACE, _ParzenEstimatorParameters(1.0, True, False, weights, True)
    )
    space = Space(SPACE)
    rows = np.column_stack([observations[k] for k in SPACE]) if n else np.zeros((0, len(SPACE)))
    ours = ParzenEstimator(space, rows, weights(n), KernelSettings())
    points = theirs.sample(np.random.RandomState(n), 300)
    expected = theirs.log_pdf(points)
    got = ours.log_pdf(np.column_stack([points[k] for k in SPACE]))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_draws_follow_the_good_density_and_stay_on_the_grid():
    rng = np.random.default_rng(5)
    space = Space(SPACE)
    rows = np.column_stack([random_observations(rng, 10)[k] for k in SPACE])
    parzen = ParzenEstimator(space, rows, np.ones(10), KernelSettings())
    points = parzen.sample(rng.random((4000, 1 + len(SPACE))))
    for i, (name, dist) in enumerate(SPACE.items()):
        values = [dist.to_external_repr(v) for v in points[:, i]]
        assert all(dist._contains(dist.to_internal_repr(v)) for v in values), name
    # Points drawn from the density are likelier under it than draws from its wide prior
    # kernel alone (the last kernel, picked by a first uniform close to 1).
    prior = parzen.sample(np.column_stack([np.full(4000, 0.9999), rng.random((4000, 7))]))
    assert parzen.log_pdf(points).mean() > parzen.log_pdf(prior).mean() + 1.0


def test_same_seed_same_study_other_seed_other_study():
    first, again, other = run(study(1, "a")), run(study(1, "b")), run(study(2, "c"))
    assert signature(first) == signature(again)
    assert signature(first) != signature(other)
    states = {t.state for t in first.get_trials(deepcopy=False)}
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_search_beats_random_search_of_the_same_budget(seed):
    tpe = run(study(seed)).best_value
    random = open_study(
        None, "random", sampler=optuna.samplers.RandomSampler(seed), pruner=MedianPruner(5)
    )
    assert tpe > run(random).best_value


def test_each_point_of_a_batch_counts_the_earlier_ones_as_bad():
    # With many candidates per point every point would pick the same best spot; the lies make
    # the batch spread out.
    sampler = BatchTPESampler(4, n_ei_candidates=500)
    s = open_study(None, "liar", sampler=sampler, pruner=MedianPruner(5))
    trials = run(s, 50).get_trials(deepcopy=False)[25:]
    points = np.array([(t.params["fast"], t.params["slow"]) for t in trials], dtype=float)
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(axis=2))
    mean_distance = distances.sum() / (len(points) * (len(points) - 1))
    assert mean_distance > 30  # About 90 with the lies, 4 without.


def test_a_study_resumed_at_a_batch_boundary_continues_exactly():
    whole = study(5, "whole")
    enqueue_params(whole, [{"fast": 10, "slow": 50, "kind": "sma"}])
    run(whole)
    resumed = study(5, "resumed")
    resumed.add_trials(whole.get_trials(deepcopy=False)[:50])
    enqueue_params(resumed, [{"fast": 10, "slow": 50, "kind": "sma"}])  # Already evaluated.
    run(resumed)
    assert signature(resumed) == signature(whole)


def test_a_study_resumed_mid_batch_finishes_its_exact_budget():
    whole = run(study(6, "whole"))
    resumed = study(6, "resumed")
    resumed.add_trials(whole.get_trials(deepcopy=False)[:37])
    run(resumed)
    finished = resumed.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 100 and len(resumed.trials) == 100


def test_one_trial_at_a_time_and_dynamic_spaces_work():
    sampler = BatchTPESampler(7, n_startup_trials=5)
    plain = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        if x > 0:  # A parameter only some trials have: sampled outside the joint model.
            trial.suggest_int("extra", 0, 3)
        return x**2

    plain.optimize(objective, n_trials=40)
    assert len(plain.trials) == 40 and plain.best_value < 0.5


def test_multi_objective_studies_are_refused():
    moo = optuna.create_study(directions=["minimize", "minimize"], sampler=BatchTPESampler(0))
    with pytest.raises(ValueError, match="single-objective"):
        moo.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=15)


def test_the_memoized_median_pruner_decides_like_optunas():
    def make(pruner: optuna.pruners.BasePruner) -> optuna.Study:
        return open_study(None, "p", seed=8, pruner=pruner)

    ours = run(make(MedianPruner(n_startup_trials=5)))
    theirs = run(make(optuna.pruners.MedianPruner(n_startup_trials=5)))
    assert signature(ours) == signature(theirs)
