"""Maestro's metrics equal QuantStats' on the same return series (rf = 0, same periods)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import quantstats as qs
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from maestro_pipeline.engine.backtest import BacktestSettings, run_backtest
from maestro_pipeline.engine.metrics import (
    floor_at_ruin,
    periods_per_year,
    return_metrics,
    returns_from_values,
)
from maestro_pipeline.engine.registry import get_strategy

HOURLY = 8760
TOLERANCE = 1e-9


def _quantstats_metrics(returns: pd.Series, periods: float) -> dict[str, float]:
    return {
        "total_return": qs.stats.comp(returns),
        "cagr": qs.stats.cagr(returns, periods=periods),
        "volatility": qs.stats.volatility(returns, periods=periods),
        "sharpe_ratio": qs.stats.sharpe(returns, rf=0.0, periods=periods),
        "sortino_ratio": qs.stats.sortino(returns, rf=0.0, periods=periods),
        "max_drawdown": qs.stats.max_drawdown(returns),
        "calmar_ratio": qs.stats.calmar(returns, periods=periods),
    }


def test_hourly_bars_have_8760_periods_a_year() -> None:
    assert periods_per_year(3_600_000) == HOURLY
    assert periods_per_year(86_400_000) == 365


@pytest.mark.parametrize(
    ("name", "params", "settings"),
    [
        ("ema_cross", {"fast": 10, "slow": 40}, BacktestSettings(fees=0.001)),
        ("rsi", {}, BacktestSettings(fees=0.002, slippage=0.0005)),
        ("bollinger", {}, BacktestSettings(direction="both")),
        ("supertrend", {}, BacktestSettings(direction="short")),
    ],
)
def test_backtest_metrics_match_quantstats(btc_1h, name, params, settings) -> None:
    result = run_backtest(btc_1h, get_strategy(name), params, settings)
    # The tz-naive copy is what QuantStats works on internally; the values are the same.
    returns = result.returns.copy()
    assert result.metrics["trade_count"] > 5, "the check needs a curve that actually trades"
    expected = _quantstats_metrics(returns, HOURLY)
    for metric, value in expected.items():
        assert result.metrics[metric] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE), metric


def test_equity_and_returns_agree(btc_1h) -> None:
    settings = BacktestSettings(init_cash=1_000.0)
    result = run_backtest(btc_1h, get_strategy("macd"), {}, settings)
    rebuilt = settings.init_cash * np.cumprod(1.0 + result.returns.to_numpy())
    np.testing.assert_allclose(rebuilt, result.equity.to_numpy(), rtol=1e-10)
    assert result.metrics["total_return"] == pytest.approx(
        result.equity.iloc[-1] / settings.init_cash - 1.0, rel=1e-12
    )
    assert str(result.equity.index.tz) == "UTC"


def test_random_curves_match_quantstats_column_by_column() -> None:
    rng = np.random.default_rng(7)
    n, k = 2_000, 5
    returns = rng.normal(0.0002, 0.01, size=(n, k))
    values = 100.0 * np.cumprod(1.0 + returns, axis=0)
    ours = return_metrics(values, 100.0, 365.0)
    index = pd.date_range("2020-01-01", periods=n, freq="D")
    for j in range(k):
        expected = _quantstats_metrics(pd.Series(returns[:, j], index=index), 365.0)
        for metric, value in expected.items():
            assert ours[metric][j] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE), metric


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(
    returns=hnp.arrays(
        np.float64,
        st.integers(min_value=5, max_value=400),
        elements=st.floats(min_value=-0.2, max_value=0.2, allow_nan=False, width=64),
    ),
    periods=st.sampled_from([365.0, 2190.0, 8760.0, 17520.0]),
)
def test_any_return_series_matches_quantstats(returns, periods) -> None:
    # Where QuantStats divides by zero (no dispersion, no losing bar) Maestro reports 0.
    assume(returns.std(ddof=1) > 1e-6 and (returns < -1e-6).any())
    values = 50.0 * np.cumprod(1.0 + returns)
    ours = return_metrics(values, 50.0, periods)
    index = pd.date_range("2021-01-01", periods=len(returns), freq="h")
    expected = _quantstats_metrics(pd.Series(returns, index=index), periods)
    for metric, value in expected.items():
        assert ours[metric][0] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE), metric


def test_ruin_is_final_and_costs_everything() -> None:
    values = np.array([[100.0], [50.0], [-10.0], [20.0]])
    floored = floor_at_ruin(values)
    np.testing.assert_array_equal(floored[:, 0], [100.0, 50.0, 0.0, 0.0])
    np.testing.assert_array_equal(returns_from_values(floored, 100.0)[:, 0], [0.0, -0.5, -1.0, 0.0])
    metrics = return_metrics(values, 100.0, 365.0)
    assert metrics["total_return"][0] == -1.0
    assert metrics["max_drawdown"][0] == -1.0
