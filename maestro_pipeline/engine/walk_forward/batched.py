"""Batched ask-and-tell optimization: many parameter sets scored by one evaluator call.

The speed of a vectorbt study comes from evaluating a batch of parameter sets as the columns of
one backtest. ``optimize_batched`` therefore uses Optuna's ask-and-tell interface: it asks a
batch of trials, hands all their parameters to one ``evaluate`` call per pruning step, reports
each trial's intermediate value, drops the trials the pruner rejects, and tells Optuna the final
values of the survivors. The study may be in memory or in any storage; a study that already
holds finished trials (a resumed run) only gets the trials its budget still lacks.

Whether other processes spend the same study's budget is the ``TrialCoordinator``'s business:
this module's default coordinator assumes nobody else does. Sharing a study across workers
(heartbeats, claims of budget places) lives in ``maestro_pipeline.optimization``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from maestro_pipeline.engine.walk_forward.pruning import MedianPruner

# User attribute set on trials that finished as FAIL because ``evaluate`` returned a non-finite
# value (too few trades, empty equity ...). Such trials are real evaluations and use up budget;
# trials that FAILed because their process died do not carry it and are re-run.
INFEASIBLE_ATTR = "infeasible"

Suggest = Callable[[optuna.Trial], dict[str, Any]]
Evaluate = Callable[[list[dict[str, Any]], int], Any]


def make_sampler(seed: int | None, n_startup_trials: int = 10) -> optuna.samplers.BaseSampler:
    """The studies' sampler: seeded multivariate TPE with a constant liar (the trials of one
    batch spread out instead of all landing on the same point), its densities fitted once per
    batch of asked trials (``sampler.BatchTPESampler``, several times faster than Optuna's
    ``TPESampler`` on batches, same algorithm). Its draws are seeded per trial number, so a
    study resumed at a batch boundary continues exactly as the uninterrupted run would have.
    """
    # Imported here: its densities need scipy.special, a quarter second to import.
    from maestro_pipeline.engine.walk_forward.sampler import BatchTPESampler

    return BatchTPESampler(seed, n_startup_trials=n_startup_trials)


def make_pruner(
    kind: Literal["median", "hyperband", "none"], n_steps: int, n_startup_trials: int = 5
) -> optuna.pruners.BasePruner:
    """A pruner for ``n_steps`` cumulative in-sample sub-windows (steps 0 .. n_steps-1)."""
    if kind == "median":
        # Optuna's median rule, each step's median computed once per batch.
        return MedianPruner(n_startup_trials=n_startup_trials)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=n_steps)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {kind!r}: expected 'median', 'hyperband' or 'none'")


def enqueue_params(study: optuna.Study, params_list: Sequence[dict[str, Any]]) -> None:
    """Queue known parameter sets (e.g. a strategy's defaults) to be the next trials asked.

    Sets already queued or evaluated in this study are skipped, so resuming does not repeat them.
    """
    for params in params_list:
        study.enqueue_trial(dict(params), skip_if_exists=True)


@dataclass(frozen=True)
class TrialCounts:
    """A study's trials by what they mean for the budget."""

    complete: int
    pruned: int
    infeasible: int
    running: int

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.infeasible


def trial_counts(study: optuna.Study) -> TrialCounts:
    """Count the study's trials (one storage read)."""
    trials = study.get_trials(
        deepcopy=False,
        states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING),
    )
    states = Counter(t.state for t in trials)
    infeasible = sum(t.state == TrialState.FAIL and INFEASIBLE_ATTR in t.user_attrs for t in trials)
    return TrialCounts(
        complete=states[TrialState.COMPLETE],
        pruned=states[TrialState.PRUNED],
        infeasible=infeasible,
        running=states[TrialState.RUNNING],
    )


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """COMPLETE, PRUNED and infeasible trials use up budget; crashed ones are run again."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and INFEASIBLE_ATTR in trial.user_attrs


class TrialCoordinator:
    """How this run shares a study's budget with others: here, with nobody (exclusive).

    ``maestro_pipeline.optimization`` subclasses it for studies that several workers spend
    together (claims of budget places, heartbeats, waiting for others' running trials).
    """

    shared = False

    def __enter__(self) -> TrialCoordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def free(self, counts: TrialCounts, n_trials: int) -> int:
        """How many trials this run may ask now."""
        return n_trials - counts.finished

    def wait(self, study: optuna.Study) -> None:
        """Nothing is free but the budget is not spent: others hold the rest."""
        raise RuntimeError("an exclusive study has no other workers to wait for")

    def claim(
        self, study: optuna.Study, trials: list[optuna.Trial], n_trials: int
    ) -> list[optuna.Trial]:
        """The asked trials this run may evaluate (the rest are given back)."""
        return trials

    def track(self, trials: list[optuna.Trial]) -> None:
        """Trials this run now holds."""

    def untrack(self, trials: list[optuna.Trial]) -> None:
        """Trials this run no longer holds."""


@dataclass(frozen=True)
class BatchProgress:
    """Handed to the progress callback after every batch."""

    n_finished: int
    n_trials: int
    n_complete: int
    n_pruned: int
    n_infeasible: int
    best_value: float | None
    best_params: dict[str, Any] | None


@dataclass(frozen=True)
class OptimizationSummary:
    """Outcome of ``optimize_batched``.

    Counts cover the whole study (including trials finished by earlier runs); ``n_resumed`` is
    how many of them were already finished when this call started. Timings cover this call:
    ``sampling_seconds`` is asking trials and suggesting their parameters,
    ``evaluation_seconds`` the ``evaluate`` calls, ``storage_seconds`` reporting intermediate
    values, pruning decisions, telling results and counting trials (Optuna storage I/O).
    """

    best_params: dict[str, Any] | None
    best_value: float | None
    best_trial_number: int | None
    n_trials: int
    n_finished: int
    n_complete: int
    n_pruned: int
    n_infeasible: int
    n_resumed: int
    n_evaluated_here: int
    sampling_seconds: float
    evaluation_seconds: float
    storage_seconds: float
    total_seconds: float
    steps_evaluated: dict[int, int] = field(default_factory=dict)


def optimize_batched(
    study: optuna.Study,
    suggest: Suggest,
    evaluate: Evaluate,
    n_trials: int,
    batch_size: int = 32,
    n_steps: int = 1,
    *,
    progress: Callable[[BatchProgress], None] | None = None,
    coordinator: TrialCoordinator | None = None,
) -> OptimizationSummary:
    """Optimize until the study holds ``n_trials`` finished trials.

    Args:
        study: an Optuna study (``optuna.create_study`` with ``make_sampler``/``make_pruner``,
            or a stored one opened by ``maestro_pipeline.optimization``).
        suggest: draws one trial's parameters with ``trial.suggest_*`` and returns them as a
            dict (the dict is what ``evaluate`` receives; it may hold derived values).
        evaluate: ``evaluate(params_list, step)`` scores every parameter set of the list on
            pruning step ``step`` and returns one value per set (sequence or 1-D array). Step
            ``k`` should score the k-th cumulative in-sample sub-window (see
            ``splits.cumulative_subwindows``); the last step, ``n_steps - 1``, the whole
            in-sample window. A NaN or infinite value means infeasible (for example fewer
            trades than required): at an intermediate step the value is not reported and the
            trial goes on; at the last step the trial ends as FAIL with the user attribute
            ``infeasible``. Infeasible trials use up budget but can never be the best trial.
        n_trials: total budget of finished trials (COMPLETE, PRUNED or infeasible) in the
            study; trials finished by earlier runs count.
        batch_size: trials asked and evaluated together.
        n_steps: pruning steps; 1 disables pruning.
        progress: called after every batch.
        coordinator: how the budget is shared with other workers; exclusive by default.

    If ``evaluate`` raises, the trials of the current batch that are still running are told
    FAIL (without the infeasible mark, so a later run retries that budget) and the exception
    propagates.
    """
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    coordinator = coordinator or TrialCoordinator()

    started = time.perf_counter()
    timer = _Timer()
    with timer.section("storage"):
        counts = trial_counts(study)
    n_resumed = counts.finished
    n_evaluated_here = 0
    steps_evaluated: dict[int, int] = {}

    with coordinator:
        while counts.finished < n_trials:
            free = coordinator.free(counts, n_trials)
            if free <= 0:
                with timer.section("storage"):
                    coordinator.wait(study)
                    counts = trial_counts(study)
                continue
            with timer.section("sampling"):
                trials = _ask(study, min(batch_size, free))
                coordinator.track(trials)
            try:
                with timer.section("storage"):
                    trials = coordinator.claim(study, trials, n_trials)
                with timer.section("sampling"):
                    params = [suggest(trial) for trial in trials]
                _run_batch(
                    study, trials, params, evaluate, n_steps, timer, steps_evaluated, coordinator,
                    n_trials,
                )  # fmt: skip
            except BaseException:
                for trial in trials:
                    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                raise
            finally:
                coordinator.untrack(trials)
            n_evaluated_here += len(trials)
            with timer.section("storage"):
                counts = trial_counts(study)
                best = best_trial(study)
            if progress is not None:
                progress(
                    BatchProgress(
                        n_finished=counts.finished,
                        n_trials=n_trials,
                        n_complete=counts.complete,
                        n_pruned=counts.pruned,
                        n_infeasible=counts.infeasible,
                        best_value=None if best is None else best.value,
                        best_params=None if best is None else dict(best.params),
                    )
                )

    best = best_trial(study)
    return OptimizationSummary(
        best_params=None if best is None else dict(best.params),
        best_value=None if best is None else best.value,
        best_trial_number=None if best is None else best.number,
        n_trials=n_trials,
        n_finished=counts.finished,
        n_complete=counts.complete,
        n_pruned=counts.pruned,
        n_infeasible=counts.infeasible,
        n_resumed=n_resumed,
        n_evaluated_here=n_evaluated_here,
        sampling_seconds=timer.seconds["sampling"],
        evaluation_seconds=timer.seconds["evaluation"],
        storage_seconds=timer.seconds["storage"],
        total_seconds=time.perf_counter() - started,
        steps_evaluated=steps_evaluated,
    )


def _run_batch(
    study: optuna.Study,
    trials: list[optuna.Trial],
    params: list[dict[str, Any]],
    evaluate: Evaluate,
    n_steps: int,
    timer: _Timer,
    steps_evaluated: dict[int, int],
    coordinator: TrialCoordinator,
    n_trials: int,
) -> None:
    alive = list(range(len(trials)))
    for step in range(n_steps):
        with timer.section("evaluation"):
            raw = evaluate([params[i] for i in alive], step)
            values = np.asarray(raw, dtype=float).reshape(-1)
        if values.shape[0] != len(alive):
            raise ValueError(
                f"evaluate returned {values.shape[0]} values at step {step} for {len(alive)} "
                "parameter sets"
            )
        steps_evaluated[step] = steps_evaluated.get(step, 0) + len(alive)
        last_step = step == n_steps - 1
        survivors = []
        with timer.section("storage"):
            if step == 0 and coordinator.shared:
                # A trial asked by another worker a moment earlier may have committed only
                # after this batch claimed its places: look again before reporting anything.
                kept = {id(t) for t in coordinator.claim(study, [trials[i] for i in alive],
                                                         n_trials)}  # fmt: skip
                mask = np.array([id(trials[i]) in kept for i in alive], dtype=bool)
                alive = [i for i, keep in zip(alive, mask, strict=True) if keep]
                values = values[mask]
            for i, value in zip(alive, values, strict=True):
                trial = trials[i]
                if last_step:
                    _tell_final(study, trial, float(value), step)
                    continue
                if not math.isfinite(value):
                    # Early sub-windows may hold too few trades for a score; only the full
                    # in-sample window decides feasibility.
                    survivors.append(i)
                    continue
                trial.report(float(value), step)
                if trial.should_prune():
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    survivors.append(i)
        alive = survivors
        if not alive:
            return


def _tell_final(study: optuna.Study, trial: optuna.Trial, value: float, step: int) -> None:
    if math.isfinite(value):
        # Reporting the last step too lets dashboards and pruners see each trial's full curve.
        trial.report(value, step)
        study.tell(trial, value)
    else:
        trial.set_user_attr(INFEASIBLE_ATTR, repr(value))
        study.tell(trial, state=TrialState.FAIL)


def _ask(study: optuna.Study, size: int) -> list[optuna.Trial]:
    with warnings.catch_warnings():
        # Optuna warns that heartbeats are meant for Study.optimize; shared studies record
        # them for the asked trials themselves (see the optimization layer's coordinator).
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return [study.ask() for _ in range(size)]


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The study's best trial, or None before the first COMPLETE one."""
    try:
        return study.best_trial
    except ValueError:
        return None


class _Timer:
    def __init__(self) -> None:
        self.seconds = {"sampling": 0.0, "evaluation": 0.0, "storage": 0.0}

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
