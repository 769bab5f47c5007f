"""Selection-bias statistics for optimized strategies.

* Probabilistic Sharpe Ratio (PSR) and Deflated Sharpe Ratio (DSR): Bailey & López de Prado,
  "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and
  Non-Normality", Journal of Portfolio Management, 2014.
* Probability of Backtest Overfitting (PBO) by Combinatorially Symmetric Cross-Validation
  (CSCV): Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting",
  Journal of Computational Finance, 2017.

Units: every Sharpe ratio here is *per period* and not annualized: mean / standard deviation
(ddof=1) of the per-bar (or per-day...) returns that the statistic is computed on. The
variance of trial Sharpe ratios must be in the same per-period units (annualized variance
divided by the number of periods per year). Kurtosis is the plain (Pearson) kurtosis, 3 for
normal returns, not the excess kurtosis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
from scipy import stats

EULER_MASCHERONI = 0.5772156649015329


def sharpe_ratio(returns: np.ndarray) -> float:
    """Per-period Sharpe ratio (mean / sample standard deviation); NaN if undefined."""
    values = np.asarray(returns, dtype=float)
    if values.size < 2:
        return math.nan
    std = values.std(ddof=1)
    if not std > 0:
        return math.nan
    return float(values.mean() / std)


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
    benchmark_sharpe: float = 0.0,
) -> float:
    """Probability that the true per-period Sharpe exceeds ``benchmark_sharpe`` (PSR).

    ``PSR = Φ((SR − SR*) · sqrt(n − 1) / sqrt(1 − γ3·SR + (γ4 − 1)/4 · SR²))`` with ``γ3`` the
    skewness and ``γ4`` the (non-excess) kurtosis of the ``n_obs`` returns behind ``sharpe``.
    """
    if n_obs < 2:
        raise ValueError(f"PSR needs at least 2 observations, got n_obs={n_obs}")
    variance_term = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance_term > 0:
        raise ValueError(
            f"the Sharpe ratio's variance term is not positive ({variance_term:.4g}) for "
            f"sharpe={sharpe}, skewness={skewness}, kurtosis={kurtosis}: kurtosis must be the "
            "plain (Pearson, normal = 3) kurtosis"
        )
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_obs - 1) / math.sqrt(variance_term)
    return float(stats.norm.cdf(z))


def expected_maximum_sharpe(n_trials: float, trial_sharpe_variance: float) -> float:
    """Expected maximum of ``n_trials`` per-period Sharpe ratios whose true value is zero.

    ``E[max SR] ≈ sqrt(V) · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`` with ``γ`` the
    Euler-Mascheroni constant and ``V`` the variance of the trials' Sharpe ratios. With one
    trial nothing was selected, so the benchmark is 0. ``N`` may be an effective (fractional)
    number of independent trials; the approximation turns negative for ``N`` just above 1,
    where the expected maximum of so few trials is about 0, so it is floored at 0.
    """
    if not n_trials >= 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not trial_sharpe_variance >= 0:
        raise ValueError(f"trial_sharpe_variance must be >= 0, got {trial_sharpe_variance}")
    if n_trials == 1:
        return 0.0
    quantiles = (1.0 - EULER_MASCHERONI) * stats.norm.ppf(1.0 - 1.0 / n_trials) + (
        EULER_MASCHERONI * stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    )
    return max(0.0, float(math.sqrt(trial_sharpe_variance) * quantiles))


def effective_trials(n_trials: float, average_correlation: float) -> float:
    """Independent trials equivalent to ``n_trials`` whose returns correlate on average ``ρ``.

    ``N_eff = ρ + (1 − ρ) · N``: one trial when all move together (ρ = 1), ``N`` when they are
    uncorrelated (ρ = 0). The average-correlation estimate used beside the DSR (López de Prado
    and co-authors; the 2014 paper suggests clustering the trials for a finer one). ``ρ`` is
    clipped to [0, 1]: negatively correlated trials are not counted as more than ``N``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    rho = min(1.0, max(0.0, float(average_correlation)))
    return rho + (1.0 - rho) * float(n_trials)


def average_correlation(returns: np.ndarray) -> float:
    """Mean pairwise correlation of the columns of a T x N return matrix (NaN if undefined).

    Columns without variance (a parameter set that never traded) have no correlation and are
    left out.
    """
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 3:
        return math.nan
    matrix = matrix[:, matrix.std(axis=0) > 0]
    n = matrix.shape[1]
    if n < 2:
        return math.nan
    corr = np.corrcoef(matrix, rowvar=False)
    return float((corr.sum() - np.trace(corr)) / (n * (n - 1)))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The Deflated Sharpe Ratio and the figures it was computed from (per-period units)."""

    deflated_sharpe_ratio: float
    sharpe: float
    expected_max_sharpe: float
    n_obs: int
    skewness: float
    kurtosis: float
    n_trials: int
    trial_sharpe_variance: float


def deflated_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    n_trials: int,
    trial_sharpe_variance: float,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
) -> DeflatedSharpe:
    """DSR: the PSR of the selected strategy against the expected maximum Sharpe of the trials.

    ``sharpe`` is the selected strategy's per-period Sharpe over ``n_obs`` returns with the
    given skewness and (non-excess) kurtosis; ``n_trials`` the number of independent
    configurations tried and ``trial_sharpe_variance`` the variance of their per-period Sharpe
    ratios.
    """
    benchmark = expected_maximum_sharpe(n_trials, trial_sharpe_variance)
    dsr = probabilistic_sharpe_ratio(sharpe, n_obs, skewness, kurtosis, benchmark)
    return DeflatedSharpe(
        deflated_sharpe_ratio=dsr,
        sharpe=sharpe,
        expected_max_sharpe=benchmark,
        n_obs=n_obs,
        skewness=skewness,
        kurtosis=kurtosis,
        n_trials=n_trials,
        trial_sharpe_variance=trial_sharpe_variance,
    )


def deflated_sharpe_ratio_from_returns(
    returns: np.ndarray, trial_sharpes: np.ndarray, n_trials: int | None = None
) -> DeflatedSharpe:
    """DSR of the selected strategy's per-period ``returns``, deflated by the trials' Sharpes.

    ``trial_sharpes`` are the per-period Sharpe ratios of all trials (non-finite ones, such as
    infeasible trials, are ignored for the variance). ``n_trials`` defaults to the number of
    finite trial Sharpes; pass a smaller effective number when trials were strongly correlated.
    """
    values = np.asarray(returns, dtype=float)
    values = values[np.isfinite(values)]
    sharpe = sharpe_ratio(values)
    if math.isnan(sharpe):
        raise ValueError("the returns have fewer than 2 finite values or zero variance")
    trials = np.asarray(trial_sharpes, dtype=float)
    trials = trials[np.isfinite(trials)]
    if n_trials is None:
        n_trials = max(1, trials.size)
    variance = float(trials.var(ddof=1)) if trials.size > 1 else 0.0
    return deflated_sharpe_ratio(
        sharpe=sharpe,
        n_obs=values.size,
        n_trials=n_trials,
        trial_sharpe_variance=variance,
        skewness=float(stats.skew(values)),
        kurtosis=float(stats.kurtosis(values, fisher=False)),
    )


# ---------------------------------------------------------------------------------------------
# Probability of Backtest Overfitting (CSCV)

PerformanceMetric = Literal["sharpe", "mean"] | Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BacktestOverfitting:
    """CSCV result.

    ``logits[c]`` is ``ln(ω / (1 − ω))`` for combination ``c``, where ``ω = rank / (N + 1)`` is
    the relative out-of-sample rank (1 = worst, N = best) of the configuration that was best
    in-sample. ``pbo`` is the fraction of combinations with a logit ≤ 0, i.e. where the
    in-sample winner did no better than the out-of-sample median.
    """

    pbo: float
    logits: np.ndarray
    is_best_trial: np.ndarray
    is_best_is_metric: np.ndarray
    is_best_oos_metric: np.ndarray
    n_partitions: int
    n_combinations: int
    n_rows_used: int
    n_trials: int


def probability_of_backtest_overfitting(
    performance: np.ndarray,
    n_partitions: int = 16,
    metric: PerformanceMetric = "sharpe",
) -> BacktestOverfitting:
    """PBO by Combinatorially Symmetric Cross-Validation over a T x N performance matrix.

    Args:
        performance: rows are time periods in order (per-period returns), columns are the
            trials/configurations.
        n_partitions: S, an even number of contiguous row blocks. When T is not a multiple of
            S, the oldest ``T mod S`` rows are dropped so that all blocks have equal length.
        metric: ``"sharpe"`` (per-period mean / std of the rows in a half), ``"mean"``, or a
            function mapping a (rows x N) array to N scores. Non-finite scores rank lowest.

    All C(S, S/2) ways to pick half the blocks as in-sample are evaluated; the complement is
    the out-of-sample half.
    """
    matrix = np.asarray(performance, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"performance must be a 2-D T x N matrix, got shape {matrix.shape}")
    n_rows, n_trials = matrix.shape
    if n_partitions < 2 or n_partitions % 2:
        raise ValueError(f"n_partitions must be an even number >= 2, got {n_partitions}")
    if n_trials < 2:
        raise ValueError(f"PBO needs at least 2 trials (columns), got {n_trials}")
    block_len = n_rows // n_partitions
    if block_len < 1 or (metric == "sharpe" and block_len * n_partitions // 2 < 2):
        raise ValueError(
            f"{n_rows} rows are too few for {n_partitions} partitions; "
            "use fewer partitions or more periods"
        )
    used = matrix[n_rows - block_len * n_partitions :]
    blocks = used.reshape(n_partitions, block_len, n_trials)

    combos = list(combinations(range(n_partitions), n_partitions // 2))
    in_sample = np.zeros((len(combos), n_partitions), dtype=bool)
    for c, chosen in enumerate(combos):
        in_sample[c, list(chosen)] = True

    if callable(metric):
        is_scores, oos_scores = _scores_by_callable(blocks, in_sample, metric)
    elif metric in ("sharpe", "mean"):
        is_scores, oos_scores = _scores_by_block_moments(blocks, in_sample, metric)
    else:
        raise ValueError(f"metric must be 'sharpe', 'mean' or a callable, got {metric!r}")

    is_scores = np.where(np.isfinite(is_scores), is_scores, -np.inf)
    oos_scores = np.where(np.isfinite(oos_scores), oos_scores, -np.inf)
    best = np.argmax(is_scores, axis=1)
    rows = np.arange(len(combos))
    best_oos = oos_scores[rows, best]
    # Average rank with ties: 1 + (#worse) + (#equal others) / 2, on a 1..N scale.
    worse = (oos_scores < best_oos[:, None]).sum(axis=1)
    equal_others = (oos_scores == best_oos[:, None]).sum(axis=1) - 1
    rank = 1.0 + worse + equal_others / 2.0
    omega = rank / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return BacktestOverfitting(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        is_best_trial=best,
        is_best_is_metric=is_scores[rows, best],
        is_best_oos_metric=best_oos,
        n_partitions=n_partitions,
        n_combinations=len(combos),
        n_rows_used=block_len * n_partitions,
        n_trials=n_trials,
    )


def _scores_by_block_moments(
    blocks: np.ndarray, in_sample: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """IS and OOS scores for all combinations at once, from per-block sums.

    Summing per-block sums and sums of squares with a (combinations x blocks) 0/1 matrix gives
    every half's mean and variance without touching the rows again: C(16, 8) = 12,870
    combinations cost two small matrix products instead of 12,870 passes over the data.
    """
    block_len = blocks.shape[1]
    sums = blocks.sum(axis=1)
    # Centre on the column means before squaring, so that variances of returns with a large
    # mean relative to their spread do not lose precision.
    centre = blocks.mean(axis=(0, 1))
    squares = ((blocks - centre) ** 2).sum(axis=1)
    results = []
    for mask in (in_sample, ~in_sample):
        weights = mask.astype(float)
        count = weights.sum(axis=1, keepdims=True) * block_len
        total = weights @ sums
        mean = total / count
        if metric == "mean":
            results.append(mean)
            continue
        centred_sq = weights @ squares
        # sum((x - m)^2) = sum((x - c)^2) - n (m - c)^2 for any centre c.
        variance = (centred_sq - count * (mean - centre) ** 2) / (count - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            results.append(np.where(variance > 0, mean / np.sqrt(variance), np.nan))
    return results[0], results[1]


def _scores_by_callable(
    blocks: np.ndarray, in_sample: np.ndarray, metric: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    n_trials = blocks.shape[2]
    is_scores = np.empty((in_sample.shape[0], n_trials))
    oos_scores = np.empty_like(is_scores)
    for c, mask in enumerate(in_sample):
        is_scores[c] = metric(blocks[mask].reshape(-1, n_trials))
        oos_scores[c] = metric(blocks[~mask].reshape(-1, n_trials))
    return is_scores, oos_scores
