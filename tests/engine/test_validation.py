"""Every study's validation on synthetic bars with a known answer: a planted edge is robust,
pure noise is not; the deflated Sharpe ratio tells them apart."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import optuna
import pytest

from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.verdict import THRESHOLDS
from maestro_pipeline.engine.walk_forward import SUMMARY_KEYS, WalkForwardConfig, run_walk_forward
from tests.support.synthetic import noise_bars, planted_edge_bars

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Small but complete: 4 folds x 100 trials, or 5 cpcv groups, 2 tested (10 splits, 4 paths).
STUDY = WalkForwardConfig(n_splits=4, n_trials=100, batch_size=25, pruning_steps=2, seed=0,
                          n_groups=5, n_test_groups=2)  # fmt: skip
CPCV = dataclasses.replace(STUDY, scheme="cpcv")


@pytest.fixture(scope="module")
def supertrend():
    return get_strategy("supertrend")


@pytest.fixture(scope="module")
def edge_studies(supertrend):
    bars = planted_edge_bars(5000, seed=0)
    return {config.scheme: run_walk_forward(bars, supertrend, config) for config in (STUDY, CPCV)}


@pytest.mark.parametrize("scheme", ["walk_forward", "cpcv"])
def test_a_planted_edge_is_robust(edge_studies, scheme):
    summary = edge_studies[scheme].summary
    assert summary["verdict"] == "robust", summary["verdict_details"]["reasons"]
    assert {c["status"] for c in summary["verdict_details"]["checks"]} == {"pass"}
    assert summary["deflated_sharpe_ratio"] > 0.99
    assert summary["bootstrap"]["sharpe_ratio"]["low"] > 0
    assert summary["bootstrap"]["probability_of_loss"] < 0.01
    assert summary["plateau"]["score"] >= THRESHOLDS.plateau_pass


def test_pure_noise_is_overfit_or_insufficient_and_its_dsr_is_near_zero(supertrend):
    small = dataclasses.replace(STUDY, n_trials=30, batch_size=15)
    dsrs = []
    for seed in range(5):
        summary = run_walk_forward(noise_bars(3000, seed), supertrend, small).summary
        assert summary["verdict"] in ("overfit", "insufficient"), (seed, summary["verdict"])
        dsrs.append(summary["deflated_sharpe_ratio"])
    # The DSR is a probability: a lucky OOS run of a random walk can score a little, but
    # noise sits near 0 where the planted edge sits near 1.
    assert np.median(dsrs) < 0.1 and max(dsrs) < 0.5


def test_dsr_is_deflated_per_search_by_its_effective_trials(edge_studies):
    details = edge_studies["walk_forward"].summary["deflated_sharpe"]
    folds = edge_studies["walk_forward"].folds
    assert len(details["folds"]) == STUDY.n_splits
    weights = folds.get_column("oos_bars").to_numpy() / folds.get_column("oos_bars").sum()
    for fold, is_bars, weight in zip(details["folds"], folds.get_column("is_bars"), weights,
                                     strict=True):  # fmt: skip
        assert fold["is_bars"] == is_bars
        assert fold["null_sharpe_variance"] == pytest.approx(1 / (is_bars - 1))
        rho = fold["average_correlation"]
        assert 0 < rho <= 1  # neighbouring parameter sets trade alike
        n = fold["n_trials"]
        assert fold["effective_trials"] == pytest.approx(rho + (1 - rho) * n)
        assert 1 <= fold["effective_trials"] < n
        assert fold["weight"] == pytest.approx(weight)
    benchmark = sum(f["expected_max_sharpe"] * f["weight"] for f in details["folds"])
    assert details["expected_max_sharpe"] == pytest.approx(benchmark)
    assert details["n_trials"] == edge_studies["walk_forward"].summary["n_trials_feasible"]


@pytest.mark.parametrize("scheme", ["walk_forward", "cpcv"])
def test_summary_holds_every_documented_key(edge_studies, scheme):
    summary = edge_studies[scheme].summary
    assert set(SUMMARY_KEYS) - {"<metric>"} <= set(summary)
    assert summary["scheme"] == scheme
    assert (summary["cpcv"] is None) == (scheme == "walk_forward")
    assert summary["timings"]["validation"] > 0
    assert summary["timings"]["total"] >= summary["timings"]["validation"]
    trades = summary["trade_monte_carlo"]
    assert trades["n_trades"] == edge_studies[scheme].trades.height
    assert trades["max_drawdown"]["worst"] <= trades["observed_max_drawdown"] + 1e-12
    heatmap = summary["plateau"]["heatmap"]
    assert heatmap["x"]["name"] != heatmap["y"]["name"]
    assert sum(map(sum, heatmap["counts"])) == sum(
        f["n_trials"] for f in summary["plateau"]["folds"]
    )


def test_validation_is_reproducible(supertrend, edge_studies):
    again = run_walk_forward(planted_edge_bars(5000, seed=0), supertrend, STUDY).summary
    first = edge_studies["walk_forward"].summary
    for key in ("bootstrap", "trade_monte_carlo", "plateau", "verdict", "verdict_details",
                "deflated_sharpe"):  # fmt: skip
        assert again[key] == first[key], key
    assert math.isfinite(again["bootstrap"]["block_length"])
