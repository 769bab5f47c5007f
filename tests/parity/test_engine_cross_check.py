"""The engine cross-check every study gets: v1 (Backtrader) re-runs each search's choice.

On the built-ins that have Backtrader twins the two engines agree to rounding, so the check
passes; a strategy whose signals change from one call to the next (the study traded other
signals than the re-run sees) makes them disagree, and the check says so loudly: ``passed``
false, the deviation named per fold, and the verdict ``insufficient`` with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from backtrader_reference import REFERENCE_STRATEGIES

from maestro_pipeline.engine.backtest import BacktestSettings
from maestro_pipeline.engine.engines import UnsupportedSetting, backtest
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.runner import run_walk_forward
from maestro_pipeline.strategy import IntParam, SignalSet, Strategy

SMALL = {"n_splits": 3, "n_trials": 12, "min_trades": 1, "seed": 11}


def _study(bars, strategy, **overrides):
    return run_walk_forward(bars, strategy, WalkForwardConfig(**{**SMALL, **overrides}))


def _cross_check(bars, strategy, **overrides):
    return _study(bars, strategy, **overrides).summary


@pytest.mark.parametrize("name", sorted(REFERENCE_STRATEGIES))
def test_the_cross_check_passes_on_every_builtin_with_a_backtrader_twin(hourly_samples, name):
    result = _study(hourly_samples["ETH/USD"], get_strategy(name))
    summary, check = result.summary, result.summary["cross_check"]

    assert check["engine"] == "v1"
    assert check["passed"] is True
    assert check["unsupported"] is None
    assert check["max_deviation"] < 1e-6
    assert [row["fold"] for row in check["folds"]] == [0, 1, 2]
    for row, trades in zip(check["folds"], result.folds["oos_trade_count"], strict=True):
        assert row["trades_v1"] == row["trades_v2"] == trades
        assert row["sharpe_v1"] == pytest.approx(row["sharpe_v2"], rel=1e-6, abs=1e-9)
    statuses = {c["name"]: c["status"] for c in summary["verdict_details"]["checks"]}
    assert statuses["engine_cross_check"] == "pass"


def test_the_cross_check_covers_cpcv_splits(hourly_samples):
    summary = _cross_check(
        hourly_samples["BTC/USD"],
        get_strategy("ema_cross"),
        scheme="cpcv",
        n_groups=5,
        n_test_groups=2,
    )
    check = summary["cross_check"]

    assert check["passed"] is True
    assert len(check["folds"]) == 10  # C(5, 2) splits, each checked
    assert check["max_deviation"] < 1e-6


def _restless(bars, p):
    """Enters on a coin flip that differs on every call: no two runs trade the same."""
    flips = np.random.default_rng().random(len(bars.close)) < 1.0 / p["every"]
    exits = np.roll(flips, p["every"] // 2)
    return SignalSet(long_entries=flips, long_exits=exits)


RESTLESS = Strategy(
    name="restless",
    description="Long on a fresh random draw each call; out half a period later.",
    parameters={"every": IntParam(10, 40, default=20)},
    signal_function=_restless,
)


def test_the_cross_check_fails_loudly_on_a_strategy_made_to_disagree(hourly_samples):
    summary = _cross_check(hourly_samples["BTC/USD"], RESTLESS)
    check = summary["cross_check"]

    assert check["passed"] is False
    assert check["max_deviation"] > check["tolerance"] == 0.05
    worst = max(check["folds"], key=lambda row: max(row["deviation"].values()))
    assert max(worst["deviation"].values()) == check["max_deviation"]
    assert summary["verdict"] == "insufficient"
    assert any("engine v1 disagrees" in reason for reason in summary["verdict_details"]["reasons"])


def test_settings_backtrader_cannot_express_are_refused_naming_the_setting(hourly_samples):
    bars = hourly_samples["BTC/USD"].head(500)
    trailing = BacktestSettings(stop_loss=0.05, trailing_stop=True)
    with pytest.raises(UnsupportedSetting, match="trailing_stop"):
        backtest(bars, get_strategy("ema_cross"), settings=trailing, engine_version="v1")
    slipping = BacktestSettings(stop_loss=0.05, slippage=0.001)
    with pytest.raises(UnsupportedSetting, match="stop_loss"):
        backtest(bars, get_strategy("ema_cross"), settings=slipping, engine_version="v1")
    # v2 runs both.
    assert backtest(bars, get_strategy("ema_cross"), settings=trailing).metrics is not None


def test_a_study_on_v1_is_checked_on_v2(hourly_samples):
    bars = hourly_samples["BTC/USD"].head(3000)
    summary = _cross_check(bars, get_strategy("ema_cross"), n_trials=4, engine_version="v1")
    check = summary["cross_check"]

    assert summary["config"]["engine_version"] == "v1"
    assert check["engine"] == "v2"
    assert check["passed"] is True


def test_the_settings_reach_the_checking_engine(hourly_samples):
    """Fees and slippage are the study's: with costs the two engines still agree."""
    costly = BacktestSettings(fees=0.002, slippage=0.001)
    summary = _cross_check(
        hourly_samples["ETH/USD"], get_strategy("rsi"), fees=costly.fees, slippage=costly.slippage
    )
    assert summary["cross_check"]["passed"] is True
