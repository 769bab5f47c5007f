"""Multivariate TPE that fits its densities once per batch of asked trials.

``optimize_batched`` asks a whole batch of trials before it suggests any of their parameters,
and nothing finishes in between. Optuna's ``TPESampler(multivariate=True, constant_liar=True)``
nevertheless starts over for every trial of the batch: it re-reads all trials, splits them into
good and bad, fits both Parzen estimators and scores its candidates with a pure-Python normal
log-CDF, although only the lies (the batch's earlier points, counted as bad trials) change
from one trial of the batch to the next.

``BatchTPESampler`` does that work once per batch. On the first ``sample_relative`` call of a
batch it reads the trials once, splits them with Optuna's TPE rule (``gamma`` of the finished
trials are good: complete trials by value, then pruned ones by the last step reached and their
value there; running trials are always bad), fits the good density once, and then draws the
point of every pending trial of the batch in trial order as TPE does: ``n_ei_candidates``
draws from the good density, keeping the one that maximizes log l(x) - log g(x). Each chosen
point joins the bad trials before the next point is drawn, which is the constant liar computed
in one pass. The densities are Optuna's (see ``parzen``).

Reproducibility: the candidates of trial ``n`` are drawn from a random stream seeded by
``(seed, n)`` and everything else is a function of the study's trials, so equal seeds give
equal studies, and a study resumed from its stored trials at a batch boundary (where a killed
exclusive walk-forward run stops) continues exactly as the uninterrupted run would have.

Pending trials are the ones this sampler saw asked (``before_trial``) and has not sampled yet;
trials enqueued with fixed parameters are not among them. A batch's points come from the trials
known when its first point is requested: results told in between are used by the next batch,
as in any batch Bayesian optimization. Asking and sampling one trial at a time (plain
``Study.optimize``) makes every batch a single trial: the usual TPE.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from maestro_pipeline.engine.walk_forward.parzen import KernelSettings, ParzenEstimator, Space

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def default_gamma(n_finished: int) -> int:
    """How many finished trials count as good: Optuna's TPE default, 10 % capped at 25."""
    return min(math.ceil(0.1 * n_finished), 25)


def default_weights(n: int) -> np.ndarray:
    """Kernel weights by age (oldest first): Optuna's TPE default, a ramp below the newest 25."""
    if n == 0:
        return np.asarray([])
    if n < 25:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, num=n - 25), np.ones(25)])


class BatchTPESampler(optuna.samplers.BaseSampler):
    """Multivariate TPE with constant liar, one density fit per batch of asked trials.

    Args:
        seed: seeds every random draw (``None``: a fresh random seed).
        n_startup_trials: finished (complete or pruned) trials before TPE starts modelling;
            until then parameters are drawn uniformly at random.
        n_ei_candidates: candidates drawn from the good density per point.
        gamma: number of good trials given the number of finished trials.
        weights: kernel weights given a number of trials ordered oldest first.
        prior_weight: weight of the prior kernel (the whole range) in both densities.
        consider_magic_clip: bound bandwidths from below by range / min(100, kernels + 1).
        consider_endpoints: let the outermost kernels' bandwidths reach the range's ends.

    The defaults are those of Optuna's ``TPESampler``. Single-objective studies without
    constraints only. Parameters outside the intersection search space (dynamic spaces) are
    drawn by an independent univariate ``TPESampler`` once the startup trials are done.
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: Callable[[int], int] = default_gamma,
        weights: Callable[[int], np.ndarray] = default_weights,
        prior_weight: float = 1.0,
        consider_magic_clip: bool = True,
        consider_endpoints: bool = False,
    ) -> None:
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        if n_ei_candidates < 1:
            raise ValueError(f"n_ei_candidates must be >= 1, got {n_ei_candidates}")
        if not prior_weight > 0:
            raise ValueError(f"prior_weight must be > 0, got {prior_weight}")
        self._seed = _base_seed(seed)
        self._n_startup_trials = n_startup_trials
        self._n_ei_candidates = n_ei_candidates
        self._gamma = gamma
        self._weights = weights
        self._kernels = KernelSettings(prior_weight, consider_magic_clip, consider_endpoints)
        self._search_space = IntersectionSearchSpace(include_pruned=True)
        self._independent = optuna.samplers.TPESampler(
            seed=self._seed, n_startup_trials=n_startup_trials, multivariate=False
        )
        self._asked: set[int] = set()
        self._batch: dict[int, dict[str, Any]] = {}
        self._batch_space: dict[str, BaseDistribution] = {}

    # -- BaseSampler interface ---------------------------------------------------------------

    def reseed_rng(self) -> None:
        self._seed = _base_seed(None)
        self._independent.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        # A trial enqueued with its parameters needs no point from the batch.
        if "fixed_params" not in trial.system_attrs:
            self._asked.add(trial.number)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if trial.number in self._batch:
            # Nothing finished since the batch was drawn: the space is the batch's.
            return dict(self._batch_space)
        space = self._search_space.calculate(study)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if trial.number not in self._batch or self._batch_space != search_space:
            self._sample_batch(study, trial.number, search_space)
        self._asked.discard(trial.number)
        return self._batch.pop(trial.number, {})

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if len(study.get_trials(deepcopy=False, states=_FINISHED)) >= self._n_startup_trials:
            return self._independent.sample_independent(
                study, trial, param_name, param_distribution
            )
        # Random startup, seeded per trial and parameter: the draws do not depend on history.
        stream = (self._seed, 1, trial.number, zlib.crc32(param_name.encode()))
        return _uniform(param_distribution, np.random.default_rng(stream))

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._asked.discard(trial.number)
        self._batch.pop(trial.number, None)

    # -- One batch ---------------------------------------------------------------------------

    def _sample_batch(
        self, study: optuna.Study, number: int, search_space: dict[str, BaseDistribution]
    ) -> None:
        """Draw the points of every pending trial from ``number`` on into ``self._batch``."""
        if len(study.directions) != 1:
            raise ValueError("BatchTPESampler supports single-objective studies only")
        self._batch = {}
        self._batch_space = dict(search_space)
        self._asked = {n for n in self._asked if n >= number}
        trials = study.get_trials(deepcopy=False)
        running = {t.number for t in trials if t.state == TrialState.RUNNING}
        pending = sorted(n for n in self._asked | {number} if n == number or n in running)
        n_finished = sum(t.state in _FINISHED for t in trials)
        if n_finished < self._n_startup_trials:
            return  # Random startup: every parameter goes to sample_independent.

        space = Space(search_space)
        maximize = study.direction == StudyDirection.MAXIMIZE
        below, above = _split(trials, self._gamma(n_finished), maximize, set(pending))
        good_obs = space.observations(below)
        good = ParzenEstimator(space, good_obs, self._weights(len(good_obs)), self._kernels)
        bad_obs = space.observations(above)
        bad_numbers = [t.number for t in above if space.covers(t)]

        # Each trial's candidates come from its own stream; the good density scores them all
        # at once, the bad one, which grows by one lie per point, point by point.
        shape = (self._n_ei_candidates, 1 + len(space))
        uniforms = [np.random.default_rng((self._seed, 0, n)).random(shape) for n in pending]
        flat = good.sample(np.concatenate(uniforms))
        candidates = flat.reshape(len(pending), self._n_ei_candidates, len(space))
        good_scores = good.log_pdf(flat).reshape(len(pending), self._n_ei_candidates)
        for n, points, good_score in zip(pending, candidates, good_scores, strict=True):
            bad = ParzenEstimator(space, bad_obs, self._weights(len(bad_obs)), self._kernels)
            point = points[int(np.argmax(good_score - bad.log_pdf(points)))]
            self._batch[n] = space.external(point)
            # The lie takes its place by trial number among the bad trials, whose kernel
            # weights depend on age.
            position = int(np.searchsorted(bad_numbers, n))
            bad_numbers.insert(position, n)
            bad_obs = np.insert(bad_obs, position, point, axis=0)


def _split(
    trials: Sequence[FrozenTrial], n_below: int, maximize: bool, exclude: set[int]
) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
    """Good and bad trials by Optuna's TPE rule (single objective), each in trial order."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    running = [t for t in trials if t.state == TrialState.RUNNING and t.number not in exclude]
    complete.sort(key=lambda t: float(t.value), reverse=maximize)  # type: ignore[arg-type]
    n_complete = min(n_below, len(complete))
    pruned.sort(key=lambda t: _pruned_score(t, maximize))
    n_pruned = min(n_below - n_complete, len(pruned))
    below = complete[:n_complete] + pruned[:n_pruned]
    above = complete[n_complete:] + pruned[n_pruned:] + running
    return sorted(below, key=lambda t: t.number), sorted(above, key=lambda t: t.number)


def _pruned_score(trial: FrozenTrial, maximize: bool) -> tuple[float, float]:
    """Pruned trials rank by the last step reached, then by their value there."""
    if not trial.intermediate_values:
        return 1.0, 0.0
    step, value = max(trial.intermediate_values.items())
    if math.isnan(value):
        return -step, math.inf
    return -step, -value if maximize else value


def _uniform(distribution: BaseDistribution, rng: np.random.Generator) -> Any:
    """A uniform draw (over the log range for log parameters), as Optuna's RandomSampler."""
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[int(rng.integers(len(distribution.choices)))]
    space = Space({"x": distribution})
    x = rng.uniform(space.low, space.high)
    if space.log[0]:
        x = np.exp(x)
    if space.discrete[0]:
        low, step = space.grid_low[0], space.step[0]
        x = np.clip(low + np.round((x - low) / step) * step, low, space.grid_high[0])
    return distribution.to_external_repr(float(x[0]))


def _base_seed(seed: int | None) -> int:
    """A non-negative integer for numpy's seed sequences (any int seed is accepted)."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return int(seed) % 2**64
