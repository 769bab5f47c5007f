"""The Parzen estimators of multivariate TPE, vectorized over kernels, points and dimensions.

The same densities as Optuna's TPE (``optuna.samplers._tpe.parzen_estimator``, checked against
it in the tests): a weighted mixture of product kernels, one per observation, plus a prior
kernel spanning the whole range. Numbers get Gaussian kernels truncated to their range (in log
coordinates for log parameters); a kernel's bandwidth is the larger gap to its neighbouring
observations, clipped to [range / min(100, kernels + 1), range] (the "magic clip"). Numbers
with a step are discretized: the probability of a value is its bin's kernel mass. Categories
get one probability row per observation, smoothed by the prior.

Optuna evaluates discrete bin masses with a pure-Python log-CDF applied element by element;
here SciPy's ``erfc`` does it for all points x kernels x dimensions in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial
from scipy.special import erfc, ndtr, ndtri

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_2 = math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)


@dataclass(frozen=True)
class KernelSettings:
    """Optuna's ``TPESampler`` options that shape the kernels."""

    prior_weight: float = 1.0
    consider_magic_clip: bool = True
    consider_endpoints: bool = False


class Space:
    """A search space in the estimators' coordinates: one column per parameter.

    Points are rows of internal representations (Optuna's: numbers as floats, categories as
    choice indices). Number columns also have a kernel support, in log coordinates for log
    parameters and widened by half a step on each side for stepped ones.
    """

    def __init__(self, search_space: dict[str, BaseDistribution]) -> None:
        self.names = list(search_space)
        self.distributions = list(search_space.values())
        self.categorical: list[tuple[int, int]] = []  # (column, number of choices)
        numbers: list[FloatDistribution | IntDistribution] = []
        columns: list[int] = []
        for i, (name, d) in enumerate(search_space.items()):
            if isinstance(d, CategoricalDistribution):
                self.categorical.append((i, len(d.choices)))
            elif isinstance(d, FloatDistribution | IntDistribution):
                numbers.append(d)
                columns.append(i)
            else:
                raise TypeError(f"unsupported distribution for {name!r}: {d!r}")
        self.numeric = np.array(columns, dtype=np.intp)
        self.step = np.array([float(d.step or 0.0) for d in numbers])
        self.log = np.array([d.log for d in numbers], dtype=bool)
        self.grid_low = np.array([float(d.low) for d in numbers])
        self.grid_high = np.array([float(d.high) for d in numbers])
        self.discrete = self.step > 0
        low, high = self.grid_low - self.step / 2, self.grid_high + self.step / 2
        self.low = np.where(self.log, np.log(np.where(self.log, low, 1.0)), low)
        self.high = np.where(self.log, np.log(np.where(self.log, high, 1.0)), high)

    def __len__(self) -> int:
        return len(self.names)

    def covers(self, trial: FrozenTrial) -> bool:
        return all(name in trial.params for name in self.names)

    def observations(self, trials: list[FrozenTrial]) -> np.ndarray:
        """Internal representations of the trials that set every parameter, one row each."""
        rows = [
            [
                d.to_internal_repr(t.params[n])
                for n, d in zip(self.names, self.distributions, strict=True)
            ]
            for t in trials
            if self.covers(t)
        ]
        return np.asarray(rows, dtype=float).reshape(len(rows), len(self))

    def external(self, point: np.ndarray) -> dict[str, Any]:
        return {
            name: d.to_external_repr(float(v))
            for name, d, v in zip(self.names, self.distributions, point, strict=True)
        }

    def to_kernel_coordinates(self, numbers: np.ndarray) -> np.ndarray:
        """Number columns as the kernels see them (log parameters in log)."""
        out = numbers.astype(float, copy=True)
        out[:, self.log] = np.log(out[:, self.log])
        return out


class ParzenEstimator:
    """A mixture of product kernels over ``space``: one per observation, plus the prior."""

    def __init__(
        self,
        space: Space,
        observations: np.ndarray,
        weights: np.ndarray,
        settings: KernelSettings,
    ) -> None:
        self.space = space
        n = len(observations)
        w = np.append(np.asarray(weights, dtype=float)[:n], settings.prior_weight) if n else [1.0]
        self.weights = np.asarray(w, dtype=float) / np.sum(w)
        self.log_weights = np.log(self.weights)
        self.mus, self.sigmas = _numeric_kernels(
            space, space.to_kernel_coordinates(observations[:, space.numeric]), settings
        )
        self.choices = [
            _categorical_kernels(observations[:, i], n_choices, settings.prior_weight)
            for i, n_choices in space.categorical
        ]
        # Each kernel's mass inside the support: the truncation's normalizer.
        self.log_normalizer = _log_gauss_mass(
            (space.low - self.mus) / self.sigmas, (space.high - self.mus) / self.sigmas
        ).sum(axis=1)

    def sample(self, uniforms: np.ndarray) -> np.ndarray:
        """Points drawn from the mixture, one per row of ``uniforms``.

        ``uniforms`` holds draws in [0, 1) with ``1 + len(space)`` columns: the first picks
        the kernel, column ``1 + i`` draws parameter ``i`` from it. Numbers land on their grid.
        """
        space = self.space
        kernel = np.searchsorted(np.cumsum(self.weights), uniforms[:, 0], side="right")
        kernel = np.minimum(kernel, len(self.weights) - 1)
        out = np.empty((len(uniforms), len(space)))
        for (i, _), probabilities in zip(space.categorical, self.choices, strict=True):
            cumulative = np.cumsum(probabilities[kernel], axis=1)
            cumulative[:, -1] = 1.0
            out[:, i] = (cumulative < uniforms[:, 1 + i, None]).sum(axis=1)
        if len(space.numeric):
            mu, sigma = self.mus[kernel], self.sigmas[kernel]
            # Inverse-CDF draws from the truncated kernels. Kernel centres lie inside the
            # support, so the CDF bounds straddle 0.5 and the inversion is accurate.
            cdf_low = ndtr((space.low - mu) / sigma)
            cdf_high = ndtr((space.high - mu) / sigma)
            u = uniforms[:, 1 + space.numeric]
            x = np.clip(
                mu + sigma * ndtri(cdf_low + u * (cdf_high - cdf_low)), space.low, space.high
            )
            x[:, space.log] = np.exp(x[:, space.log])
            d, low = space.discrete, space.grid_low[space.discrete]
            x[:, d] = np.clip(
                low + np.round((x[:, d] - low) / space.step[d]) * space.step[d],
                low,
                space.grid_high[d],
            )
            out[:, space.numeric] = x
        return out

    def log_pdf(self, points: np.ndarray) -> np.ndarray:
        """Log density of each point (log probability mass in discrete dimensions)."""
        space = self.space
        total = np.broadcast_to(
            self.log_weights - self.log_normalizer, (len(points), len(self.weights))
        ).copy()
        for (i, _), probabilities in zip(space.categorical, self.choices, strict=True):
            total += np.log(probabilities[:, points[:, i].astype(np.intp)].T)
        if not len(space.numeric):
            return _log_sum_exp(total)
        numbers = points[:, space.numeric]
        d, c = space.discrete, ~space.discrete
        if d.any():
            half = space.step[d] / 2
            edges = np.concatenate([numbers[:, d] - half, numbers[:, d] + half], axis=1)
            logs = np.concatenate([space.log[d], space.log[d]])
            edges[:, logs] = np.log(edges[:, logs])
            left, right = np.split(edges, 2, axis=1)
            mu, sigma = self.mus[:, d], self.sigmas[:, d]
            total += _log_gauss_mass(
                (left[:, None, :] - mu) / sigma, (right[:, None, :] - mu) / sigma
            ).sum(axis=2)
        if c.any():
            x = numbers[:, c]
            x[:, space.log[c]] = np.log(x[:, space.log[c]])
            z = (x[:, None, :] - self.mus[:, c]) / self.sigmas[:, c]
            total += (-0.5 * z * z - _LOG_SQRT_2PI - np.log(self.sigmas[:, c])).sum(axis=2)
        return _log_sum_exp(total)


def _numeric_kernels(
    space: Space, mus: np.ndarray, settings: KernelSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Centres and bandwidths (kernels x number columns), the prior kernel last."""
    n = len(mus)
    width = space.high - space.low
    sigmas = np.empty_like(mus)
    if n and mus.shape[1]:
        # Per column, as Optuna sorts each parameter on its own (ties keep the same order).
        order = np.column_stack([np.argsort(mus[:, j]) for j in range(mus.shape[1])])
        ordered = np.take_along_axis(mus, order, axis=0)
        padded = np.vstack([space.low, ordered, space.high])
        gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
        if not settings.consider_endpoints and n >= 2:
            gaps[0] = padded[2] - padded[1]
            gaps[-1] = padded[-2] - padded[-3]
        np.put_along_axis(sigmas, order, gaps, axis=0)
        floor = width / min(100.0, n + 2.0) if settings.consider_magic_clip else 1e-12
        sigmas = np.clip(sigmas, floor, width)
    prior_mu, prior_sigma = (space.low + space.high) / 2, width
    return np.vstack([mus, prior_mu]), np.vstack([sigmas, prior_sigma])


def _categorical_kernels(
    observations: np.ndarray, n_choices: int, prior_weight: float
) -> np.ndarray:
    """Choice probabilities (kernels x choices): observed choices smoothed, a uniform prior."""
    n_kernels = len(observations) + 1
    if n_kernels == 1:
        return np.full((1, n_choices), 1.0 / n_choices)
    kernels = np.full((n_kernels, n_choices), prior_weight / n_kernels)
    kernels[np.arange(len(observations)), observations.astype(np.intp)] += 1.0
    return kernels / kernels.sum(axis=1, keepdims=True)


def _log_gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(b) - Phi(a)) for a < b, elementwise.

    Intervals right of zero are mirrored to the left, where Phi(x) = erfc(-x / sqrt 2) / 2
    keeps full relative precision, so the difference is accurate for masses down to about
    1e-300 and -inf below. Such a kernel adds nothing next to the prior kernel, whose mass at
    every point of the support is far larger.
    """
    flip = a > 0
    low, high = np.where(flip, -b, a), np.where(flip, -a, b)
    mass = erfc(high * -_SQRT_HALF) - erfc(low * -_SQRT_HALF)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(mass, 0.0)) - _LOG_2


def _log_sum_exp(values: np.ndarray) -> np.ndarray:
    peak = values.max(axis=1)
    peak[np.isneginf(peak)] = 0.0
    with np.errstate(divide="ignore"):
        return np.log(np.exp(values - peak[:, None]).sum(axis=1)) + peak
