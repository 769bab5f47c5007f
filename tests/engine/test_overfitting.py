"""PSR, DSR and PBO against answers known from the papers, limits and constructed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from maestro_pipeline.engine.overfitting import (
    average_correlation,
    deflated_sharpe_ratio,
    deflated_sharpe_ratio_from_returns,
    effective_trials,
    expected_maximum_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)

# --- Probabilistic / Deflated Sharpe Ratio ---------------------------------------------------


def test_psr_with_normal_returns_matches_the_hand_computed_value():
    # z = 0.1 * sqrt(100) / sqrt(1 + 0.1^2 / 2) = 0.997509...; Φ(z) = 0.840741...
    assert probabilistic_sharpe_ratio(0.1, n_obs=101) == pytest.approx(0.8407413, abs=1e-6)
    # Against a benchmark equal to the observed Sharpe, the probability is one half.
    assert probabilistic_sharpe_ratio(0.1, 101, benchmark_sharpe=0.1) == pytest.approx(0.5)


def test_psr_penalises_negative_skew_and_fat_tails():
    normal = probabilistic_sharpe_ratio(0.1, 500)
    assert probabilistic_sharpe_ratio(0.1, 500, skewness=-2.0, kurtosis=12.0) < normal
    assert probabilistic_sharpe_ratio(0.1, 2000) > normal


def test_expected_maximum_sharpe_known_value_and_limits():
    # sqrt(1) * ((1 - γ) Φ⁻¹(0.9) + γ Φ⁻¹(1 - 1 / (10 e))) = 0.42278 * 1.28155 + 0.57722 * 1.78967
    assert expected_maximum_sharpe(10, 1.0) == pytest.approx(1.57460, abs=1e-4)
    assert expected_maximum_sharpe(10, 4.0) == pytest.approx(2 * 1.57460, abs=2e-4)
    assert expected_maximum_sharpe(1, 3.0) == 0.0
    assert expected_maximum_sharpe(500, 0.0) == 0.0


def test_dsr_reproduces_the_numerical_example_of_the_paper():
    # Bailey & López de Prado (2014): annualized SR 2.5 over 5 years of daily returns
    # (T = 1250, 250 days a year), skewness -3, kurtosis 10, N = 100 trials whose annualized
    # Sharpe ratios have variance 0.5. The paper finds SR0 = 0.1132 (daily) and DSR = 0.9004.
    result = deflated_sharpe_ratio(
        sharpe=2.5 / math.sqrt(250),
        n_obs=1250,
        n_trials=100,
        trial_sharpe_variance=0.5 / 250,
        skewness=-3.0,
        kurtosis=10.0,
    )
    assert result.expected_max_sharpe == pytest.approx(0.1132, abs=1e-4)
    assert result.deflated_sharpe_ratio == pytest.approx(0.9004, abs=1e-4)


def test_effective_trials_from_the_average_correlation():
    assert effective_trials(100, 0.0) == 100
    assert effective_trials(100, 1.0) == 1
    assert effective_trials(100, 0.9) == pytest.approx(10.9)
    assert effective_trials(100, -0.3) == 100  # anti-correlation is not counted as more trials


def test_average_correlation_of_known_structures():
    rng = np.random.default_rng(0)
    common = rng.normal(size=(5000, 1))
    # Each column: half common factor, half its own noise -> pairwise correlation 0.5.
    mixed = (common + rng.normal(size=(5000, 6))) / math.sqrt(2)
    assert average_correlation(mixed) == pytest.approx(0.5, abs=0.03)
    assert average_correlation(rng.normal(size=(5000, 4))) == pytest.approx(0.0, abs=0.03)
    # A column that never moves (a parameter set that never traded) is left out.
    with_flat = np.column_stack([mixed[:, :2], np.zeros(5000)])
    assert average_correlation(with_flat) == pytest.approx(average_correlation(mixed[:, :2]))
    assert math.isnan(average_correlation(mixed[:, :1]))


def test_expected_maximum_sharpe_of_a_fractional_number_of_trials():
    # Between its integer neighbours, and never below zero just above one trial.
    assert expected_maximum_sharpe(10, 1.0) < expected_maximum_sharpe(10.5, 1.0)
    assert expected_maximum_sharpe(10.5, 1.0) < expected_maximum_sharpe(11, 1.0)
    assert expected_maximum_sharpe(1.05, 1.0) == 0.0


def test_dsr_with_one_trial_is_the_psr_against_zero():
    result = deflated_sharpe_ratio(0.08, n_obs=400, n_trials=1, trial_sharpe_variance=0.01)
    assert result.expected_max_sharpe == 0.0
    assert result.deflated_sharpe_ratio == pytest.approx(probabilistic_sharpe_ratio(0.08, 400))


def test_dsr_collapses_when_trials_vary_wildly():
    result = deflated_sharpe_ratio(0.1, n_obs=1000, n_trials=50, trial_sharpe_variance=1.0)
    assert result.deflated_sharpe_ratio < 1e-6


def test_dsr_falls_as_more_trials_were_run():
    values = [
        deflated_sharpe_ratio(0.1, 1000, n, 0.002).deflated_sharpe_ratio
        for n in (1, 2, 5, 10, 100, 1000, 10_000)
    ]
    assert all(b < a for a, b in itertools.pairwise(values))


def test_dsr_from_returns_uses_sample_moments():
    rng = np.random.default_rng(7)
    returns = rng.standard_t(df=5, size=2000) * 0.01 + 0.001
    trial_sharpes = rng.normal(0.0, 0.03, size=40)
    trial_sharpes[3] = np.nan  # an infeasible trial is ignored
    result = deflated_sharpe_ratio_from_returns(returns, trial_sharpes)
    assert result.n_obs == 2000
    assert result.n_trials == 39
    assert result.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1))
    assert result.kurtosis == pytest.approx(stats.kurtosis(returns, fisher=False))
    assert result.kurtosis > 3.5  # Student-t tails, plain kurtosis
    expected = deflated_sharpe_ratio(
        result.sharpe,
        2000,
        39,
        float(np.nanvar(trial_sharpes, ddof=1)),
        result.skewness,
        result.kurtosis,
    )
    assert result.deflated_sharpe_ratio == pytest.approx(expected.deflated_sharpe_ratio)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="n_trials"):
        expected_maximum_sharpe(0, 1.0)
    with pytest.raises(ValueError, match="Pearson"):
        probabilistic_sharpe_ratio(3.0, 100, kurtosis=0.0)  # excess kurtosis passed by mistake
    with pytest.raises(ValueError, match="at least 2"):
        probabilistic_sharpe_ratio(0.1, 1)
    with pytest.raises(ValueError, match="zero variance"):
        deflated_sharpe_ratio_from_returns(np.ones(10), np.zeros(3))
    assert math.isnan(sharpe_ratio(np.array([1.0])))


# --- Probability of Backtest Overfitting --------------------------------------------------


def test_pbo_is_zero_when_one_configuration_dominates():
    rng = np.random.default_rng(1)
    matrix = rng.normal(0.0, 0.01, size=(800, 20))
    matrix[:, 7] += 0.02  # two standard deviations a period better, in every block
    result = probability_of_backtest_overfitting(matrix)
    assert result.pbo == 0.0
    assert (result.is_best_trial == 7).all()
    assert result.n_combinations == math.comb(16, 8)
    assert (result.logits > 0).all()


def test_pbo_of_pure_noise_is_about_one_half():
    # One noise matrix gives a PBO anywhere in roughly [0.25, 0.75] (the combinations share
    # blocks); the mean over independent matrices concentrates at 1/2.
    rng = np.random.default_rng(12345)
    pbos = [
        probability_of_backtest_overfitting(rng.normal(0.0, 0.01, size=(480, 30)), 12).pbo
        for _ in range(30)
    ]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.07)


def test_pbo_is_one_when_the_in_sample_best_is_always_the_out_of_sample_worst():
    # Per-block pattern d = (S-1, -1, ..., -1) sums to zero, so the OOS half of every split
    # mirrors its IS half: mean_OOS = -mean_IS, and no half sums to zero. Column k scales the
    # pattern by c_k, so whichever column wins in-sample is the loser out-of-sample.
    n_partitions, block_len = 8, 5
    pattern = np.full(n_partitions, -1.0)
    pattern[0] = n_partitions - 1.0
    rows = np.repeat(pattern, block_len)
    scales = np.array([-2.0, -1.0, 0.5, 1.0, 3.0])
    matrix = rows[:, None] * scales[None, :]
    result = probability_of_backtest_overfitting(matrix, n_partitions, metric="mean")
    assert result.pbo == 1.0
    # Rank 1 of 5: omega = 1/6, logit = ln(1/5).
    assert np.allclose(result.logits, math.log(1 / 5))


def test_vectorised_sharpe_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    matrix = rng.normal(0.0005, 0.01, size=(163, 6)) + 5.0  # offset tests numerical stability

    def direct_sharpe(rows: np.ndarray) -> np.ndarray:
        return rows.mean(axis=0) / rows.std(axis=0, ddof=1)

    fast = probability_of_backtest_overfitting(matrix, 10, metric="sharpe")
    slow = probability_of_backtest_overfitting(matrix, 10, metric=direct_sharpe)
    assert np.allclose(fast.is_best_is_metric, slow.is_best_is_metric, rtol=1e-9)
    assert np.allclose(fast.is_best_oos_metric, slow.is_best_oos_metric, rtol=1e-9)
    assert np.array_equal(fast.logits, slow.logits)
    # 163 rows into 10 blocks of 16: the 3 oldest rows are dropped.
    assert fast.n_rows_used == 160


def test_pbo_rejects_bad_shapes():
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), 7)
    with pytest.raises(ValueError, match="too few"):
        probability_of_backtest_overfitting(np.zeros((10, 3)), 16)
    with pytest.raises(ValueError, match="at least 2 trials"):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="2-D"):
        probability_of_backtest_overfitting(np.zeros(100))
