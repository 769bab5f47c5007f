"""Walk-forward studies on real BTC/USD hourly bars with real Optuna studies."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import optuna
import polars as pl
import pytest

from maestro_pipeline.engine.registry import all_strategies, get_strategy
from maestro_pipeline.engine.walk_forward import (
    ConfigError,
    WalkForwardConfig,
    parameter_stability,
    run_walk_forward,
    walk_forward_efficiency,
)
from maestro_pipeline.engine.walk_forward.params import repair_order as _repair_order
from tests.support.studies import SMALL

optuna.logging.set_verbosity(optuna.logging.WARNING)
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def result(half_year, ema_cross):
    return run_walk_forward(half_year, ema_cross, SMALL)


def epoch_ms(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame.get_column(column).dt.epoch("ms").to_numpy()


def test_folds_cover_the_out_of_sample_tail_contiguously(result, half_year):
    folds = result.folds
    assert folds.height == SMALL.n_splits
    assert folds.get_column("fold").to_list() == [0, 1, 2]
    starts, ends = epoch_ms(folds, "oos_start"), epoch_ms(folds, "oos_end")
    # Each OOS window starts one bar after the previous one's last bar; the last ends the data.
    assert (starts[1:] == ends[:-1] + HOUR_MS).all()
    assert ends[-1] == epoch_ms(half_year, "timestamp")[-1]
    # The IS window ends right before its OOS window (no purge configured).
    assert (epoch_ms(folds, "is_end") + HOUR_MS == starts).all()
    assert folds.schema["oos_start"] == pl.Datetime("ms", "UTC")
    for row in folds.iter_rows(named=True):
        assert row["n_complete"] + row["n_pruned"] + row["n_infeasible"] == SMALL.n_trials
        params = json.loads(row["best_params"])
        assert params["fast"] < params["slow"]
        assert math.isfinite(row["best_value"])
        assert row["is_sharpe_ratio"] == pytest.approx(row["best_value"])
        for name in ("sharpe_ratio", "sortino_ratio", "total_return", "max_drawdown",
                     "trade_count"):  # fmt: skip
            assert math.isfinite(row[f"is_{name}"]) and math.isfinite(row[f"oos_{name}"])
        assert row["is_trade_count"] >= SMALL.min_trades


def test_stitched_equity_starts_at_init_cash_and_chains_across_folds(result, half_year):
    equity = result.equity
    folds = result.folds
    init_cash = SMALL.backtest.init_cash
    n_oos = int(folds.get_column("oos_bars").sum())
    assert equity.height == n_oos
    assert (epoch_ms(equity, "timestamp") == epoch_ms(half_year, "timestamp")[-n_oos:]).all()
    values = equity.get_column("equity").to_numpy()
    # A window's first bar never fills an order, so each fold opens at the previous close.
    assert values[0] == pytest.approx(init_cash)
    fold_of_bar = equity.get_column("fold").to_numpy()
    for k in range(1, SMALL.n_splits):
        first = np.flatnonzero(fold_of_bar == k)[0]
        assert values[first] == pytest.approx(values[first - 1], rel=1e-12)
    # Returns compound to the curve; drawdowns are measured from the running peak.
    returns = equity.get_column("returns").to_numpy()
    assert np.prod(1 + returns) * init_cash == pytest.approx(values[-1])
    assert result.summary["final_equity"] == pytest.approx(values[-1])
    assert result.summary["total_return"] == pytest.approx(values[-1] / init_cash - 1)
    assert equity.get_column("drawdown").max() <= 0.0
    assert equity.get_column("drawdown").min() == pytest.approx(result.summary["max_drawdown"])


def test_stitched_trades_lie_inside_their_fold_and_end_flat(result):
    trades = result.trades
    assert set(trades.columns) >= {"fold", "side", "entry_time", "exit_time", "entry_price",
                                   "exit_price", "pnl", "return"}  # fmt: skip
    assert trades.height == result.summary["trade_count"]
    assert trades.height == int(result.folds.get_column("oos_trade_count").sum())
    windows = {
        row["fold"]: (row["oos_start"], row["oos_end"])
        for row in result.folds.iter_rows(named=True)
    }
    for row in trades.iter_rows(named=True):
        start, end = windows[row["fold"]]
        assert start < row["entry_time"] < row["exit_time"] <= end
    # Every fold closes its position on its last bar, so all trades are round trips.
    assert trades.get_column("status").unique().to_list() == ["closed"]


def test_trials_record_every_trial_with_the_defaults_first(result, ema_cross):
    trials = result.trials
    assert trials.height == SMALL.n_splits * SMALL.n_trials == result.summary["n_trials_total"]
    first = trials.filter(pl.col("number") == 0)
    assert first.height == SMALL.n_splits
    defaults = ema_cross.validate()
    assert all(json.loads(p) == defaults for p in first.get_column("params"))
    assert set(trials.get_column("state").unique()) <= {"COMPLETE", "PRUNED", "FAIL"}
    # Suggestions breaking fast < slow are swapped, never scored with the broken order.
    for params, state in trials.select("params", "state").iter_rows():
        values = json.loads(params)
        assert values["fast"] < values["slow"] or state == "FAIL"


def test_summary_holds_bounded_selection_bias_statistics(result):
    summary = result.summary
    assert 0.0 <= summary["deflated_sharpe_ratio"] <= 1.0
    assert 0.0 <= summary["pbo"] <= 1.0
    assert summary["pbo_details"]["n_partitions"] == 16
    assert 2 <= summary["pbo_details"]["n_configurations"] <= 200
    details = summary["deflated_sharpe"]
    assert details["n_trials"] == summary["n_trials_feasible"]
    assert details["n_obs"] == result.equity.height
    for key in ("sharpe_ratio", "sortino_ratio", "calmar_ratio", "total_return", "cagr",
                "max_drawdown", "trade_count", "win_rate"):  # fmt: skip
        assert key in summary and key in summary["oos"]
    assert set(summary["timings"]) >= {"sampling", "backtesting", "other", "total"}
    assert summary["timings"]["total"] >= summary["timings"]["backtesting"] > 0


def test_walk_forward_efficiency_and_stability_follow_the_folds(result, ema_cross):
    folds = result.folds
    for row in folds.iter_rows(named=True):
        expected = walk_forward_efficiency(row["is_cagr"], row["oos_cagr"])
        if math.isnan(expected):
            assert math.isnan(row["wf_efficiency"])
        else:
            assert row["wf_efficiency"] == pytest.approx(row["oos_cagr"] / row["is_cagr"])
    finite = [v for v in folds.get_column("wf_efficiency").to_list() if math.isfinite(v)]
    assert result.summary["wf_efficiency"] == (pytest.approx(np.median(finite)) if finite else None)
    best = [json.loads(p) for p in folds.get_column("best_params")]
    assert result.summary["param_stability"] == parameter_stability(best, ema_cross.space)


def test_walk_forward_efficiency_known_answers():
    assert walk_forward_efficiency(0.40, 0.20) == pytest.approx(0.5)
    assert walk_forward_efficiency(0.10, -0.05) == pytest.approx(-0.5)
    assert math.isnan(walk_forward_efficiency(-0.10, 0.20))  # no IS gain: undefined
    assert math.isnan(walk_forward_efficiency(0.0, 0.20))


def test_parameter_stability_known_answers(ema_cross):
    winners = [
        {"fast": 10, "slow": 100, "ma_type": "ema"},
        {"fast": 20, "slow": 100, "ma_type": "ema"},
        {"fast": 30, "slow": 100, "ma_type": "sma"},
    ]
    stability = parameter_stability(winners, ema_cross.space)
    # fast: mean 20, population std sqrt(200/3) -> cv 0.408; slow never moves -> cv 0.
    assert stability["fast"]["cv"] == pytest.approx(math.sqrt(200 / 3) / 20)
    assert stability["fast"]["mean"] == pytest.approx(20)
    assert stability["slow"]["cv"] == 0.0
    assert stability["ma_type"] == {"kind": "categorical", "mode": "ema", "mode_share": 2 / 3}


def test_same_seed_gives_the_same_study(result, half_year, ema_cross):
    again = run_walk_forward(half_year, ema_cross, SMALL)
    assert again.folds.equals(result.folds)
    assert again.trials.equals(result.trials)
    assert again.equity.equals(result.equity)
    assert again.summary["pbo"] == result.summary["pbo"]
    assert again.summary["deflated_sharpe_ratio"] == result.summary["deflated_sharpe_ratio"]


def test_fingerprint_is_stable_and_sensitive():
    assert WalkForwardConfig().fingerprint() == WalkForwardConfig().fingerprint()
    assert WalkForwardConfig(seed=1).fingerprint() != WalkForwardConfig().fingerprint()
    assert len(WalkForwardConfig().fingerprint()) == 12


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"objective": "profit"}, "objective"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_splits": 0}, "n_splits"),
        ({"batch_size": 0}, "batch_size"),
        ({"is_oos_ratio": -1.0}, "is_oos_ratio"),
        ({"pruner": "random"}, "pruner"),
        ({"min_trades": -1}, "min_trades"),
        ({"pruning_steps": 0}, "pruning_steps"),
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field) as info:
        WalkForwardConfig(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_too_few_bars_for_the_splits_is_a_clear_error(half_year, ema_cross):
    with pytest.raises(ValueError, match="too few bars"):
        run_walk_forward(half_year.head(20), ema_cross, WalkForwardConfig(n_splits=10))


def test_unsorted_bars_are_rejected(half_year, ema_cross):
    shuffled = half_year.head(500).reverse()
    with pytest.raises(ValueError, match="strictly increasing"):
        run_walk_forward(shuffled, ema_cross, SMALL)


def test_no_feasible_trial_falls_back_to_the_defaults(half_year, ema_cross):
    strict = dataclasses.replace(SMALL, n_splits=2, n_trials=4, batch_size=4, min_trades=10_000)
    result = run_walk_forward(half_year, ema_cross, strict)
    assert result.folds.get_column("n_infeasible").to_list() == [4, 4]
    assert all(math.isnan(v) for v in result.folds.get_column("best_value"))
    assert result.folds.get_column("best_trial").to_list() == [None, None]
    defaults = ema_cross.validate()
    assert [json.loads(p) for p in result.folds.get_column("best_params")] == [defaults] * 2
    assert result.summary["pbo"] is None and "error" in result.summary["pbo_details"]
    assert result.equity.height == int(result.folds.get_column("oos_bars").sum())


def test_repair_swaps_crossed_windows_and_leaves_ties_infeasible(ema_cross):
    swapped = _repair_order(ema_cross, {"fast": 80, "slow": 30, "ma_type": "ema"})
    assert swapped == {"fast": 30, "slow": 80, "ma_type": "ema"}
    tie = {"fast": 40, "slow": 40, "ma_type": "sma"}
    assert _repair_order(ema_cross, tie) == tie
    triple = get_strategy("triple_ma")
    crossed = {**triple.validate(), "fast": 45, "mid": 30, "slow": 25}
    assert _repair_order(triple, crossed) == {**crossed, "fast": 25, "mid": 30, "slow": 45}


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_every_catalog_strategy_runs_a_study(strategy, btc_1h):
    tiny = WalkForwardConfig(n_splits=2, n_trials=6, batch_size=6, pruning_steps=2, min_trades=1)
    result = run_walk_forward(btc_1h.tail(24 * 60), strategy, tiny)
    assert result.folds.height == 2 and result.trials.height == 12
    for row in result.folds.iter_rows(named=True):
        strategy.validate(json.loads(row["best_params"]))
    for params, state in result.trials.select("params", "state").iter_rows():
        if state == "COMPLETE":
            strategy.validate(json.loads(params))
