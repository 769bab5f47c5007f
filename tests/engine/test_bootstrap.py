"""Stationary-bootstrap intervals and the trade-order Monte Carlo on returns with known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from maestro_pipeline.engine.bootstrap import (
    block_length,
    bootstrap_returns,
    trade_order_monte_carlo,
)
from maestro_pipeline.engine.metrics import return_metrics

PERIODS = 365.0


def test_the_95_percent_interval_covers_the_true_sharpe_at_about_the_nominal_rate():
    # 200 series of 750 daily returns with a known per-period Sharpe of 0.08 (annualized
    # 0.08 * sqrt(365) = 1.53): the interval must hold it in 90-99 % of them.
    true = 0.08 * math.sqrt(PERIODS)
    covered = 0
    for seed in range(200):
        returns = np.random.default_rng(seed).normal(0.08 * 0.01, 0.01, 750)
        interval = bootstrap_returns(returns, PERIODS, seed=seed)["sharpe_ratio"]
        covered += interval["low"] <= true <= interval["high"]
    assert 0.90 <= covered / 200 <= 0.99


def test_estimates_are_the_metrics_of_the_observed_series():
    returns = np.random.default_rng(3).normal(0.001, 0.02, 400)
    result = bootstrap_returns(returns, PERIODS, seed=1, n_resamples=200)
    equity = 10_000 * np.cumprod(1 + returns)
    expected = {k: float(v[0]) for k, v in return_metrics(equity, 10_000, PERIODS).items()}
    for name in ("sharpe_ratio", "cagr", "max_drawdown", "total_return"):
        assert result[name]["estimate"] == pytest.approx(expected[name], rel=1e-9)
        assert result[name]["low"] <= result[name]["high"]
    assert result["n_obs"] == 400 and result["n_resamples"] == 200
    assert result["max_drawdown"]["high"] <= 0.0


def test_same_seed_same_result_and_another_seed_differs():
    returns = np.random.default_rng(5).normal(0.0, 0.01, 300)
    first = bootstrap_returns(returns, PERIODS, seed=9, n_resamples=300)
    assert bootstrap_returns(returns, PERIODS, seed=9, n_resamples=300) == first
    assert bootstrap_returns(returns, PERIODS, seed=10, n_resamples=300) != first


def test_probability_of_loss_follows_the_drift():
    rng = np.random.default_rng(0)
    winning = bootstrap_returns(rng.normal(0.01, 0.01, 500), PERIODS, seed=0, n_resamples=300)
    losing = bootstrap_returns(rng.normal(-0.01, 0.01, 500), PERIODS, seed=0, n_resamples=300)
    assert winning["probability_of_loss"] == 0.0
    assert losing["probability_of_loss"] == 1.0
    assert winning["sharpe_ratio"]["low"] > 0 > losing["sharpe_ratio"]["high"]


def test_fan_quantiles_are_ordered_equity_paths():
    returns = np.random.default_rng(2).normal(0.0005, 0.01, 1000)
    fan = bootstrap_returns(returns, PERIODS, seed=4, n_resamples=300)["fan"]
    assert fan["index"][0] == 0 and fan["index"][-1] == 999 and len(fan["index"]) == 50
    bands = [np.asarray(fan["quantiles"][q]) for q in ("0.05", "0.25", "0.5", "0.75", "0.95")]
    for lower, upper in itertools.pairwise(bands):
        assert (lower <= upper).all()
    assert all(len(b) == 50 for b in bands)


def test_block_length_follows_the_serial_dependence():
    rng = np.random.default_rng(1)
    independent = rng.normal(size=4000)
    persistent = np.convolve(rng.normal(size=4100), np.ones(100) / 10, mode="valid")[:4000]
    assert block_length(independent) < 3 < 10 < block_length(persistent)
    # A flat curve (no trade) has no measurable dependence: the textbook n^(1/3) instead.
    assert block_length(np.zeros(1000)) == pytest.approx(10.0)


def test_too_few_returns_are_an_error_entry_not_a_crash():
    assert "error" in bootstrap_returns(np.array([0.01, np.nan]), PERIODS, seed=0)


def test_trade_order_changes_the_drawdown_not_the_final_return():
    trades = np.array([0.1, -0.05, 0.08, -0.12, 0.03, -0.02, 0.07, -0.09, 0.04, 0.02])
    result = trade_order_monte_carlo(trades, seed=3, n_shuffles=2000)
    assert result["total_return"] == pytest.approx(np.prod(1 + trades) - 1)
    drawdown = result["max_drawdown"]
    assert drawdown["worst"] <= drawdown["q05"] <= drawdown["median"] <= drawdown["q95"] <= 0
    # The worst order puts every loss in a row: (0.95 * 0.88 * 0.98 * 0.91) - 1.
    assert drawdown["worst"] >= 0.95 * 0.88 * 0.98 * 0.91 - 1 - 1e-12
    assert drawdown["worst"] < result["observed_max_drawdown"]
    assert 0 < result["probability_worse"] < 1
    assert trade_order_monte_carlo(trades, seed=3, n_shuffles=2000) == result


def test_losing_every_trade_leaves_no_order_worse_than_another():
    result = trade_order_monte_carlo(np.full(12, -0.01), seed=0, n_shuffles=100)
    assert result["probability_worse"] == 0.0
    assert result["max_drawdown"]["worst"] == pytest.approx(result["observed_max_drawdown"])
    assert "error" in trade_order_monte_carlo(np.array([0.1]), seed=0)
