"""CPCV studies on real BTC/USD hourly bars: splits searched, paths recombined, scored."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import optuna
import polars as pl
import pytest

from maestro_pipeline.engine.backtest.orders import infer_bar_ms
from maestro_pipeline.engine.cpcv import cpcv_splits
from maestro_pipeline.engine.metrics import periods_per_year
from maestro_pipeline.engine.strategy import OHLCV
from maestro_pipeline.engine.walk_forward import (
    ConfigError,
    WalkForwardConfig,
    run_walk_forward,
    study_windows,
)
from maestro_pipeline.engine.walk_forward.objective import Backtester
from maestro_pipeline.engine.walk_forward.segments import (
    cumulative_segments,
    segments_metrics,
    simulate_segments,
)
from tests.support.studies import SMALL

optuna.logging.set_verbosity(optuna.logging.WARNING)
CPCV = dataclasses.replace(SMALL, scheme="cpcv", n_groups=5, n_test_groups=2, purge_bars=12,
                           embargo_bars=24)  # fmt: skip


@pytest.fixture(scope="module")
def result(half_year, ema_cross):
    return run_walk_forward(half_year, ema_cross, CPCV)


@pytest.fixture(scope="module")
def plan(half_year):
    return cpcv_splits(half_year.height, 5, 2, 12, 24)


def test_one_search_per_split_with_the_walk_forward_fold_columns(result, half_year, ema_cross):
    assert result.folds.height == math.comb(5, 2) == result.summary["n_folds"]
    tiny = dataclasses.replace(SMALL, n_splits=2, n_trials=4, batch_size=4)
    walk_forward = run_walk_forward(half_year, ema_cross, tiny)
    assert result.folds.columns == walk_forward.folds.columns
    assert result.folds.schema == walk_forward.folds.schema
    assert result.trials.height == 10 * CPCV.n_trials
    assert result.trials.get_column("fold").unique().sort().to_list() == list(range(10))
    names = result.folds.get_column("study_name").to_list()
    assert len(set(names)) == 10 and names[3].endswith("fold-03")


def test_training_sets_leave_out_the_test_groups_purge_and_embargo(result, plan, half_year):
    times = half_year.get_column("timestamp")
    for row, split in zip(result.folds.iter_rows(named=True), plan.splits, strict=True):
        assert row["is_bars"] == split.train_bars
        assert row["oos_bars"] == split.test_bars
        assert row["oos_start"] == times[split.test[0][0]]
        assert row["is_start"] == times[split.train[0][0]]
        for start, stop in split.test:
            assert all(b <= start - 12 or a >= stop + 24 for a, b in split.train)
        assert row["is_trade_count"] >= CPCV.min_trades or math.isnan(row["best_value"])


def test_every_path_trades_every_bar_once_and_compounds(result, plan, half_year):
    paths = result.paths
    n_bars = half_year.height
    assert paths.height == plan.n_paths * n_bars
    init_cash = CPCV.backtest.init_cash
    for path, frame in paths.group_by("path", maintain_order=True):
        assert frame.get_column("timestamp").equals(half_year.get_column("timestamp"))
        returns = frame.get_column("returns").to_numpy()
        equity = frame.get_column("equity").to_numpy()
        assert np.prod(1 + returns) * init_cash == pytest.approx(equity[-1])
        # Group g of path j was traded by the split plan.path_splits[j, g].
        used = frame.group_by("group", maintain_order=True).agg(pl.col("fold").unique())
        for group, folds in used.iter_rows():
            assert folds == [plan.path_splits[path[0], group]]
    summary = result.summary["cpcv"]
    recorded = [p["sharpe_ratio"] for p in summary["paths"]]
    assert summary["sharpe_ratio"]["mean"] == pytest.approx(np.mean(recorded))
    assert summary["sharpe_ratio"]["std"] == pytest.approx(np.std(recorded, ddof=1))
    assert summary["sharpe_ratio"]["share_below_zero"] == np.mean(np.asarray(recorded) < 0)
    quantiles = summary["sharpe_ratio"]["quantiles"]
    assert quantiles["0.05"] <= quantiles["0.5"] <= quantiles["0.95"]
    assert summary["n_paths"] == plan.n_paths == 4


def test_equity_is_the_median_path(result):
    summary = result.summary
    cpcv = summary["cpcv"]
    representative = cpcv["representative_path"]
    sharpes = sorted(p["sharpe_ratio"] for p in cpcv["paths"])
    assert cpcv["paths"][representative]["sharpe_ratio"] == sharpes[(len(sharpes) - 1) // 2]
    curve = result.paths.filter(pl.col("path") == representative)
    assert result.equity.get_column("equity").equals(curve.get_column("equity"))
    assert result.equity.get_column("fold").equals(curve.get_column("fold"))
    assert summary["sharpe_ratio"] == pytest.approx(cpcv["paths"][representative]["sharpe_ratio"])
    assert summary["trade_count"] == result.trades.height
    assert summary["oos_bars"] == result.equity.height


def test_each_split_reports_its_own_test_groups(result, plan):
    # A split's OOS return compounds its groups' results, read back from the paths.
    for row, split in zip(result.folds.iter_rows(named=True), plan.splits, strict=True):
        growth = 1.0
        for group, path in zip(split.test_groups, split.paths, strict=True):
            part = result.paths.filter((pl.col("path") == path) & (pl.col("group") == group))
            assert part.get_column("fold").unique().to_list() == [split.fold]
            growth *= float(np.prod(1 + part.get_column("returns").to_numpy()))
        assert row["oos_total_return"] == pytest.approx(growth - 1, abs=1e-9)
        params = json.loads(row["best_params"])
        assert params["fast"] < params["slow"]


def test_segmented_scores_chain_the_segments(half_year, ema_cross):
    ohlcv = OHLCV.from_bars(half_year)
    periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    backtester = Backtester(ohlcv, ema_cross, CPCV.backtest, periods)
    signals = backtester.signals([ema_cross.validate(), {"fast": 5, "slow": 30, "ma_type": "sma"}])
    whole = backtester.metrics(signals, 100, 1500)
    one = segments_metrics(backtester, signals, ((100, 1500),))
    assert one.equals(whole)
    parts = [backtester.metrics(signals, 100, 700), backtester.metrics(signals, 900, 1500)]
    two = segments_metrics(backtester, signals, ((100, 700), (900, 1500)))
    growth = (1 + parts[0]["total_return"]) * (1 + parts[1]["total_return"]) - 1
    assert np.allclose(two["total_return"], growth)
    assert (two["trade_count"] == parts[0]["trade_count"] + parts[1]["trade_count"]).all()
    exposure = (parts[0]["exposure"] * 600 + parts[1]["exposure"] * 600) / 1200
    assert np.allclose(two["exposure"], exposure)
    chained = simulate_segments(backtester, signals, ((100, 700), (900, 1500)))
    returns = chained.returns[:, 0]
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(periods)
    assert two["sharpe_ratio"].iloc[0] == pytest.approx(expected)


def test_pruning_steps_grow_over_the_segments():
    steps = cumulative_segments(((0, 100), (200, 250), (400, 450)), 4)
    assert steps[0] == ((0, 50),)
    assert steps[1] == ((0, 100),)
    assert steps[2] == ((0, 100), (200, 250))
    assert steps[-1] == ((0, 100), (200, 250), (400, 450))


def test_workers_rebuild_the_same_searches(half_year, plan):
    windows = study_windows(OHLCV.from_bars(half_year), CPCV)
    assert windows == list(plan.splits)


def test_bad_cpcv_settings_name_the_field(half_year, ema_cross):
    with pytest.raises(ConfigError, match="n_test_groups"):
        WalkForwardConfig(scheme="cpcv", n_groups=4, n_test_groups=4)
    with pytest.raises(ConfigError, match="n_groups"):
        WalkForwardConfig(scheme="cpcv", n_groups=20, n_test_groups=10)
    with pytest.raises(ValueError, match="too few bars for the cpcv splits"):
        run_walk_forward(half_year.head(30), ema_cross, CPCV)


def test_walk_forward_fingerprints_ignore_the_cpcv_settings():
    assert WalkForwardConfig(n_groups=8).fingerprint() == WalkForwardConfig().fingerprint()
    cpcv = WalkForwardConfig(scheme="cpcv")
    assert cpcv.fingerprint() != WalkForwardConfig().fingerprint()
    assert dataclasses.replace(cpcv, n_groups=8).fingerprint() != cpcv.fingerprint()
