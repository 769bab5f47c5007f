"""run_backtest and the batched window evaluation the optimizer uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maestro_pipeline.engine.backtest import (
    BacktestSettings,
    SettingsError,
    evaluate_signals,
    run_backtest,
    simulate_orders,
    simulate_signals,
    simulation_arrays,
)
from maestro_pipeline.engine.metrics import METRIC_NAMES
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.strategy import OHLCV, strategy_signals

HOUR = pd.Timedelta(hours=1)


def test_signal_on_a_close_fills_at_the_next_open(btc_1h) -> None:
    strategy = get_strategy("ema_cross")
    result = run_backtest(btc_1h, strategy, {}, BacktestSettings(fees=0.0, slippage=0.0))
    signals = strategy_signals(btc_1h, strategy, [{}])
    times = btc_1h.get_column("timestamp").to_numpy()
    opens = btc_1h.get_column("open").to_numpy()
    first_signal = int(np.flatnonzero(signals.long_entries[:, 0])[0])
    first_trade = result.trades.iloc[0]
    assert first_trade["side"] == "long"
    assert first_trade["entry_time"] == pd.Timestamp(times[first_signal + 1], tz="UTC")
    assert first_trade["entry_price"] == pytest.approx(opens[first_signal + 1], rel=1e-12)
    closed = result.trades[result.trades["status"] == "closed"]
    exit_rows = np.searchsorted(times, closed["exit_time"].dt.tz_localize(None).to_numpy())
    np.testing.assert_allclose(closed["exit_price"].to_numpy(), opens[exit_rows], rtol=1e-12)
    assert signals.long_exits[exit_rows - 1, 0].all(), "every exit follows an exit signal"


def test_costs_lower_the_fill_quality(btc_1h) -> None:
    strategy = get_strategy("macd")
    free = run_backtest(btc_1h, strategy, {}, BacktestSettings(fees=0.0, slippage=0.0))
    costly = run_backtest(btc_1h, strategy, {}, BacktestSettings(fees=0.001, slippage=0.001))
    assert costly.metrics["total_return"] < free.metrics["total_return"]
    first_free, first_costly = free.trades.iloc[0], costly.trades.iloc[0]
    assert first_costly["entry_price"] == pytest.approx(first_free["entry_price"] * 1.001)
    assert first_costly["fees"] > 0 == first_free["fees"]


def test_short_and_both_directions_trade_the_short_side(btc_1h) -> None:
    strategy = get_strategy("supertrend")
    shorts = run_backtest(btc_1h, strategy, {}, BacktestSettings(direction="short"))
    both = run_backtest(btc_1h, strategy, {}, BacktestSettings(direction="both"))
    assert set(shorts.trades["side"]) == {"short"}
    assert set(both.trades["side"]) == {"long", "short"}
    assert both.metrics["exposure"] > shorts.metrics["exposure"]


def test_stop_loss_caps_losses_of_trend_trades(btc_1h) -> None:
    strategy = get_strategy("ema_cross")
    settings = BacktestSettings(fees=0.0, stop_loss=0.02)
    stopped = run_backtest(btc_1h, strategy, {}, settings)
    plain = run_backtest(btc_1h, strategy, {}, BacktestSettings(fees=0.0))
    closed = stopped.trades[stopped.trades["status"] == "closed"]
    # A stop fills at its level, or at the open when a bar gaps through it.
    assert closed["return"].min() < 0
    assert (closed["return"] >= -0.02 - 1e-9).mean() > 0.95
    assert plain.trades["return"].min() < -0.02


def test_batched_columns_equal_single_backtests(btc_1h) -> None:
    strategy = get_strategy("rsi")
    params = [{"window": 7}, {"window": 14}, {"window": 21, "lower": 25.0, "upper": 75.0}]
    settings = BacktestSettings(fees=0.0015, direction="both")
    table = evaluate_signals(btc_1h, strategy_signals(btc_1h, strategy, params), settings)
    assert list(table.columns) == list(METRIC_NAMES)
    assert len(table) == len(params)
    for j, p in enumerate(params):
        single = run_backtest(btc_1h, strategy, p, settings).metrics
        for metric in METRIC_NAMES:
            assert table[metric].iloc[j] == pytest.approx(single[metric], rel=1e-12), metric


def test_a_window_of_full_history_signals_equals_a_backtest_of_that_window(btc_1h) -> None:
    strategy = get_strategy("ema_cross")
    ohlcv = OHLCV.from_bars(btc_1h)
    signals = strategy_signals(ohlcv, strategy, [{}, {"fast": 5, "slow": 60}])
    start, stop = 5_000, 9_000
    table = evaluate_signals(ohlcv, signals, start=start, stop=stop)
    single = run_backtest(ohlcv, strategy, {}, start=start, stop=stop)
    assert table["total_return"].iloc[0] == pytest.approx(single.metrics["total_return"])
    assert single.equity.index[0] == pd.Timestamp(ohlcv.timestamp[start], unit="ms", tz="UTC")
    assert len(single.equity) == stop - start
    # The window starts flat: its first fill is at the earliest on the second bar.
    assert single.trades["entry_time"].min() >= single.equity.index[1]
    whole = evaluate_signals(ohlcv, signals)
    assert whole["trade_count"].iloc[0] > table["trade_count"].iloc[0]


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"fees": -0.1}, "fees"),
        ({"slippage": 0.9}, "slippage"),
        ({"direction": "sideways"}, "direction"),
        ({"size_fraction": 0.0}, "size_fraction"),
        ({"stop_loss": 1.5}, "stop_loss"),
        ({"trailing_stop": True}, "trailing_stop"),
        ({"init_cash": 0.0}, "init_cash"),
        ({"direction": "both", "size_fraction": 0.5}, "size_fraction"),
    ],
)
def test_bad_settings_name_the_setting(kwargs, setting) -> None:
    with pytest.raises(SettingsError, match=f"'{setting}'"):
        BacktestSettings(**kwargs)


@pytest.mark.parametrize("direction", ["long", "short"])
def test_partial_sizing_halves_exposure_to_each_move(btc_1h, direction) -> None:
    strategy = get_strategy("supertrend")
    full = run_backtest(btc_1h, strategy, {}, BacktestSettings(direction=direction))
    half = run_backtest(
        btc_1h, strategy, {}, BacktestSettings(direction=direction, size_fraction=0.5)
    )
    assert half.metrics["trade_count"] == full.metrics["trade_count"]
    first_full, first_half = full.trades.iloc[0], half.trades.iloc[0]
    assert first_half["size"] == pytest.approx(first_full["size"] / 2, rel=1e-9)
    assert half.metrics["volatility"] < full.metrics["volatility"]


def test_window_outside_the_bars_is_refused(btc_1h) -> None:
    signals = strategy_signals(btc_1h, get_strategy("rsi"), [{}])
    with pytest.raises(ValueError, match="outside"):
        evaluate_signals(btc_1h, signals, start=10, stop=btc_1h.height + 1)


@pytest.mark.parametrize(
    "settings",
    [
        BacktestSettings(),
        BacktestSettings(direction="both", fees=0.002, slippage=0.001),
        BacktestSettings(direction="short", stop_loss=0.03, take_profit=0.05),
    ],
)
def test_direct_kernel_path_equals_portfolio_from_signals(btc_1h, settings) -> None:
    strategy = get_strategy("keltner")
    signals = strategy_signals(btc_1h, strategy, [{}, {"window": 50, "multiplier": 1.0}])
    portfolio = simulate_signals(btc_1h, signals, settings, start=100, stop=12_000)
    direct = simulate_orders(btc_1h, signals, settings, start=100, stop=12_000)
    assert len(direct.positions) > 20
    np.testing.assert_allclose(direct.values, portfolio.value().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(direct.positions, portfolio.positions.values)
    np.testing.assert_array_equal(simulation_arrays(portfolio).values, direct.values)
