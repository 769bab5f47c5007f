"""Parameter plateaus: does the objective stay up around the chosen parameters?

A parameter set that wins on a lone spike of the objective is a fit to noise; one that sits
on a plateau keeps most of its score when the parameters move a little. Everything here is
read from the trials each search already ran (no extra backtests).

* Coordinates: each numeric parameter is scaled to [0, 1] over its search range (on a log
  scale for log parameters); categorical parameters are equal or not.
* Neighbourhood of the chosen parameters: the other complete trials of the same search
  within ``RADIUS`` (0.1, a tenth of every range) on every numeric parameter (an L-infinity
  box) and with the same categorical values.
* ``score`` of a search: ``(median(neighbours) − median(all)) / (best − median(all))`` over
  the complete trials' objective values, clipped to [0, 1]. The share of the best trial's
  lead over a typical trial that its neighbourhood keeps: 1 when the neighbours score like
  the best (a plateau), 0 when they score no better than a typical trial (a spike). Scale
  free, so Sharpe, Calmar or returns read alike. A search whose trials all score alike
  scores 1; with fewer than ``MIN_NEIGHBOURS`` neighbours its score is undefined (None).
  The sampler concentrates trials near good regions, so neighbours are plentiful where it
  matters; trials that were pruned or infeasible carry no final score and are left out.
* The study's ``score`` is the median of the searches' scores.
* ``importance``: per parameter, the adjusted correlation ratio (epsilon squared) of the
  objective on the parameter cut into up to ``IMPORTANCE_BINS`` quantile bins (categories for
  categoricals): the share of the objective's variance that the parameter alone explains, a
  first-order sensitivity like fANOVA's main effects, corrected for the bins' chance share.
  Averaged over searches. It is a cheap proxy: Optuna's fANOVA takes ~0.6 s per search, and
  its PED-ANOVA measures what sets the top-quantile trials apart rather than what moves the
  objective.
* ``heatmap``: the mean objective of every search's complete trials over a grid of the two
  most important parameters (``HEATMAP_BINS`` bins per numeric axis, one per category), with
  trial counts per cell and each search's chosen point; data only, for charts to draw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from maestro_pipeline.engine.metrics import json_safe
from maestro_pipeline.engine.strategy import CategoricalParam, FloatParam, IntParam
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.params import params_key, trial_params

RADIUS = 0.1
MIN_NEIGHBOURS = 3
IMPORTANCE_BINS = 10
HEATMAP_BINS = 12


def _coordinate(spec: Any, value: Any) -> float:
    """A numeric parameter's value scaled to [0, 1] over its range (log scale if log)."""
    low, high = float(spec.low), float(spec.high)
    if spec.log:
        low, high, value = math.log(low), math.log(high), math.log(float(value))
    return 0.0 if high <= low else (float(value) - low) / (high - low)


def _trial_table(outcome: FoldOutcome) -> tuple[list[dict[str, Any]], np.ndarray]:
    complete = [t for t in outcome.complete() if t.value is not None and math.isfinite(t.value)]
    return [trial_params(t) for t in complete], np.asarray([t.value for t in complete], float)


def search_plateau(
    outcome: FoldOutcome, space: Mapping[str, Any], radius: float = RADIUS
) -> dict[str, Any]:
    """The plateau score of one search's chosen parameters (see the module docstring)."""
    best = outcome.best()
    params, values = _trial_table(outcome)
    row: dict[str, Any] = {"fold": outcome.fold.fold, "score": None, "n_neighbours": 0,
                           "n_trials": len(values)}  # fmt: skip
    if best is None or not len(values):
        return row
    chosen = trial_params(best)
    chosen_key = params_key(chosen)
    numeric = [n for n, s in space.items() if isinstance(s, IntParam | FloatParam)]
    categorical = [n for n, s in space.items() if isinstance(s, CategoricalParam)]
    centre = np.asarray([_coordinate(space[n], chosen[n]) for n in numeric])
    neighbours = []
    for p, value in zip(params, values, strict=True):
        if params_key(p) == chosen_key or any(p[n] != chosen[n] for n in categorical):
            continue
        point = np.asarray([_coordinate(space[n], p[n]) for n in numeric])
        if not numeric or np.abs(point - centre).max() <= radius + 1e-12:
            neighbours.append(value)
    typical = float(np.median(values))
    top = float(best.value)
    row.update(best_value=top, trials_median=typical, n_neighbours=len(neighbours))
    if len(neighbours) < MIN_NEIGHBOURS:
        return row
    around = float(np.median(neighbours))
    row["neighbours_median"] = around
    lead = top - typical
    scale = max(abs(top), abs(typical), 1e-12)
    row["score"] = 1.0 if lead <= 1e-9 * scale else float(np.clip((around - typical) / lead, 0, 1))
    return row


def _bins(spec: Any, values: Sequence[Any], n_bins: int) -> np.ndarray:
    """Bin number of each value: categories for categoricals, quantile bins for numbers."""
    if isinstance(spec, CategoricalParam):
        lookup = {repr(c): i for i, c in enumerate(spec.choices)}
        return np.asarray([lookup.get(repr(v), -1) for v in values])
    numbers = np.asarray([_coordinate(spec, v) for v in values])
    edges = np.unique(np.quantile(numbers, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, numbers, side="right")


def epsilon_squared(groups: np.ndarray, values: np.ndarray) -> float:
    """Adjusted share of the variance of ``values`` explained by ``groups`` (>= 0; NaN if
    undefined): ``1 − (SS_within / (n − B)) / (SS_total / (n − 1))``."""
    labels, inverse = np.unique(groups, return_inverse=True)
    n, k = values.size, labels.size
    total = float(((values - values.mean()) ** 2).sum())
    if k < 2 or n <= k or total <= 0:
        return math.nan
    means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    within = float(((values - means[inverse]) ** 2).sum())
    return max(0.0, 1.0 - (within / (n - k)) / (total / (n - 1)))


def importance(outcomes: Sequence[FoldOutcome], space: Mapping[str, Any]) -> dict[str, float]:
    """Per parameter, epsilon squared averaged over searches, most important first."""
    scores: dict[str, list[float]] = {name: [] for name in space}
    for outcome in outcomes:
        params, values = _trial_table(outcome)
        if values.size < IMPORTANCE_BINS + 2:
            continue
        for name, spec in space.items():
            value = epsilon_squared(_bins(spec, [p[name] for p in params], IMPORTANCE_BINS),
                                    values)  # fmt: skip
            if math.isfinite(value):
                scores[name].append(value)
    means = {name: float(np.mean(v)) for name, v in scores.items() if v}
    return dict(sorted(means.items(), key=lambda item: (-item[1], item[0])))


def _axis(name: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, CategoricalParam):
        return {"name": name, "kind": "categorical", "categories": list(spec.choices)}
    low, high = float(spec.low), float(spec.high)
    n_bins = HEATMAP_BINS
    if isinstance(spec, IntParam) and not spec.log:
        n_bins = max(1, min(n_bins, (spec.high - spec.low) // spec.step + 1))
    if spec.log:
        edges = np.exp(np.linspace(math.log(low), math.log(high), n_bins + 1))
        centers = np.sqrt(edges[:-1] * edges[1:])
    else:
        edges = np.linspace(low, high, n_bins + 1)
        centers = (edges[:-1] + edges[1:]) / 2
    return {"name": name, "kind": "numeric", "log": bool(spec.log), "edges": edges.tolist(),
            "centers": centers.tolist()}  # fmt: skip


def _cell(axis: dict[str, Any], value: Any) -> int:
    if axis["kind"] == "categorical":
        return axis["categories"].index(value) if value in axis["categories"] else -1
    edges = axis["edges"]
    index = int(np.searchsorted(edges, float(value), side="right")) - 1
    return min(max(index, 0), len(edges) - 2)


def heatmap(
    outcomes: Sequence[FoldOutcome], space: Mapping[str, Any], names: tuple[str, str]
) -> dict[str, Any]:
    """Mean objective of all searches' complete trials on a grid of two parameters."""
    x_axis, y_axis = _axis(names[0], space[names[0]]), _axis(names[1], space[names[1]])
    width = len(x_axis.get("categories") or x_axis["centers"])
    height = len(y_axis.get("categories") or y_axis["centers"])
    sums, counts = np.zeros((height, width)), np.zeros((height, width), dtype=np.int64)
    chosen = []
    for outcome in outcomes:
        params, values = _trial_table(outcome)
        for p, value in zip(params, values, strict=True):
            i, j = _cell(y_axis, p[names[1]]), _cell(x_axis, p[names[0]])
            if i >= 0 and j >= 0:
                sums[i, j] += value
                counts[i, j] += 1
        best = outcome.best()
        if best is not None:
            picked = trial_params(best)
            chosen.append({"fold": outcome.fold.fold, "x": picked[names[0]],
                           "y": picked[names[1]]})  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return {"x": x_axis, "y": y_axis, "values": means.tolist(), "counts": counts.tolist(),
            "chosen": chosen}  # fmt: skip


def plateau_summary(
    outcomes: Sequence[FoldOutcome], space: Mapping[str, Any], objective: str
) -> dict[str, Any]:
    """``summary["plateau"]``: score, per-search scores, importance and the heatmap data."""
    searches = [search_plateau(outcome, space) for outcome in outcomes]
    defined = [s["score"] for s in searches if s["score"] is not None]
    ranked = importance(outcomes, space)
    names = list(ranked) + [name for name in space if name not in ranked]
    grid = heatmap(outcomes, space, (names[0], names[1])) if len(names) >= 2 else None
    return json_safe(
        {
            "score": float(np.median(defined)) if defined else None,
            "objective": objective,
            "radius": RADIUS,
            "min_neighbours": MIN_NEIGHBOURS,
            "n_scored": len(defined),
            "folds": searches,
            "importance": ranked,
            "heatmap": grid,
        }
    )
