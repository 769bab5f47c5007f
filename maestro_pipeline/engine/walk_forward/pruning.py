"""A median pruner that computes each step's median once per set of complete trials.

Optuna's ``MedianPruner`` re-reads every complete trial and recomputes the median of their
values at the reported step on every ``should_prune`` call. In a batched study the complete
trials do not change while a batch is evaluated, so every trial of the batch pays for the same
median. ``MedianPruner`` here decides exactly as Optuna's does and remembers each step's median
for as long as the number of complete trials stays the same: the complete trials only ever
grow, so two snapshots with the same count are the same set.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


class MedianPruner(optuna.pruners.MedianPruner):
    """Optuna's median stopping rule with the per-step median memoized.

    Args are Optuna's: ``n_startup_trials`` complete trials before pruning starts,
    ``n_warmup_steps`` steps never pruned, ``interval_steps`` between pruning checks and
    ``n_min_trials`` values at a step needed for its median.
    """

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(
            n_startup_trials, n_warmup_steps, interval_steps, n_min_trials=n_min_trials
        )
        self._startup = n_startup_trials
        self._warmup = n_warmup_steps
        self._interval = interval_steps
        self._min_trials = n_min_trials
        self._medians: dict[tuple[str, int], tuple[int, float]] = {}

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete or len(complete) < self._startup:
            return False
        step = trial.last_step
        if step is None or step < self._warmup:
            return False
        if not self._first_in_interval(step, trial):
            return False
        maximize = study.direction == StudyDirection.MAXIMIZE
        values = np.asarray(list(trial.intermediate_values.values()), dtype=float)
        if np.isnan(values).all():
            return True
        best = float(np.nanmax(values) if maximize else np.nanmin(values))
        median = self._median(study, complete, step)
        if math.isnan(median):
            return False
        return best < median if maximize else best > median

    def _first_in_interval(self, step: int, trial: FrozenTrial) -> bool:
        nearest = (step - self._warmup) // self._interval * self._interval + self._warmup
        earlier = [s for s in trial.intermediate_values if s != step]
        return max(earlier, default=-1) < nearest

    def _median(self, study: optuna.Study, complete: list[FrozenTrial], step: int) -> float:
        key = (study.study_name, step)
        cached = self._medians.get(key)
        if cached is not None and cached[0] == len(complete):
            return cached[1]
        values = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        if len(values) < self._min_trials:
            median = math.nan
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # All-NaN: the median is NaN.
                median = float(np.nanpercentile(np.asarray(values, dtype=float), 50.0))
        self._medians[key] = (len(complete), median)
        return median
