"""Backtests on vectorbt (engine v2): one parameter set with its trades and equity, or many
as metrics rows.

``evaluate_signals`` is the optimizer's hot path (many columns, one window, metrics only);
``run_backtest`` is one parameter set with its trade list and UTC equity curve. Either engine
behind one call: ``engine.engines``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import polars as pl

from maestro_pipeline.engine.backtest.orders import infer_bar_ms
from maestro_pipeline.engine.backtest.result import TRADE_COLUMNS, BacktestResult, SimulationArrays
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.backtest.simulate import simulate_orders
from maestro_pipeline.engine.backtest.tables import backtest_result, metric_arrays, metrics_table
from maestro_pipeline.engine.metrics import periods_per_year
from maestro_pipeline.engine.strategy import OHLCV, Signals, Strategy, strategy_signals

__all__ = [
    "TRADE_COLUMNS",
    "BacktestResult",
    "evaluate_signals",
    "metric_arrays",
    "metrics_table",
    "run_backtest",
]


def evaluate_signals(
    bars: pl.DataFrame | OHLCV,
    signals: Signals,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
    periods: float | None = None,
) -> pd.DataFrame:
    """Metrics of every parameter set over bars ``[start, stop)``: one row per column.

    This is the optimizer's hot path: compute ``strategy_signals`` once on the full history,
    then call this for each window. ``periods`` (bars per year) is inferred from the bars'
    spacing when omitted. Columns: ``METRIC_NAMES`` (sharpe_ratio, sortino_ratio,
    calmar_ratio, total_return, max_drawdown, trade_count, ...).
    """
    ohlcv = OHLCV.from_bars(bars)
    if periods is None:
        periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    return metrics_table(simulate_orders(ohlcv, signals, settings, start, stop), periods)


def run_backtest(
    bars: pl.DataFrame | OHLCV,
    strategy: Strategy,
    params: Mapping[str, Any] | None = None,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
    simulate: Callable[..., SimulationArrays] = simulate_orders,
) -> BacktestResult:
    """Backtest one parameter set (defaults overlaid with ``params``) over ``[start, stop)``.

    Raises ``ParameterError`` for a bad parameter and ``SettingsError`` for a bad setting.
    Open positions at the end are marked to the last close and reported with status 'open'
    (their pnl is unrealized). ``simulate`` is the engine's simulation (v2's
    ``simulate_orders`` unless ``engines.backtest`` picks another).
    """
    settings = settings or BacktestSettings()
    ohlcv = OHLCV.from_bars(bars)
    signals = strategy_signals(ohlcv, strategy, [params or {}])
    periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    arrays = simulate(ohlcv, signals, settings, start, stop)
    stop = len(ohlcv) if stop is None else stop
    return backtest_result(ohlcv, strategy, signals, settings, arrays, periods, start, stop)
