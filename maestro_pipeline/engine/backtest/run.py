"""Backtests: one parameter set with its trades and equity, or many as metrics rows.

``evaluate_signals`` is the optimizer's hot path (many columns, one window, metrics only);
``run_backtest`` is one parameter set with its trade list and UTC equity curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from maestro_pipeline.engine.backtest.orders import infer_bar_ms
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.backtest.simulate import SimulationArrays, simulate_orders
from maestro_pipeline.engine.metrics import (
    METRIC_NAMES,
    floor_at_ruin,
    periods_per_year,
    return_metrics,
    returns_from_values,
)
from maestro_pipeline.engine.metrics import trade_metrics as _trade_metrics
from maestro_pipeline.engine.strategy import OHLCV, Signals, Strategy, strategy_signals
from maestro_pipeline.engine.vectorbt_kernels import kernels

enums = kernels().enums


def metric_arrays(arrays: SimulationArrays, periods: float) -> dict[str, np.ndarray]:
    n_bars, n_cols = arrays.values.shape
    records = arrays.positions
    table = return_metrics(arrays.values, arrays.init_cash, periods)
    table.update(
        _trade_metrics(
            records["col"],
            records["entry_idx"],
            records["exit_idx"],
            records["status"] == enums.TradeStatus.Open,
            records["pnl"],
            records["return"],
            n_cols,
            n_bars,
        )
    )
    return table


def metrics_table(arrays: SimulationArrays, periods: float) -> pd.DataFrame:
    table = metric_arrays(arrays, periods)
    return pd.DataFrame({name: table[name] for name in METRIC_NAMES})


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


@dataclass(frozen=True)
class BacktestResult:
    """One backtest: metrics, the trade list and the equity curve (UTC timestamps)."""

    strategy: str
    params: dict[str, Any]
    settings: BacktestSettings
    metrics: dict[str, float]
    trades: pd.DataFrame
    equity: pd.Series
    returns: pd.Series


TRADE_COLUMNS = (
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "size",
    "fees",
    "pnl",
    "return",
    "status",
)


_SIDES = ("long", "short")  # vectorbt's TradeDirection codes 0 and 1
_STATUSES = ("open", "closed")  # vectorbt's TradeStatus codes 0 and 1


def _trade_table(records: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    is_open = records["status"] == enums.TradeStatus.Open
    return pd.DataFrame(
        {
            # Categoricals from vectorbt's codes: pandas 3 builds string columns slowly.
            "side": pd.Categorical.from_codes(records["direction"], _SIDES),
            "entry_time": times[records["entry_idx"]],
            "entry_price": records["entry_price"],
            "exit_time": times[records["exit_idx"]].where(~is_open),
            "exit_price": np.where(is_open, np.nan, records["exit_price"]),
            "size": records["size"],
            "fees": records["entry_fees"] + records["exit_fees"],
            "pnl": records["pnl"],
            "return": records["return"],
            "status": pd.Categorical.from_codes(records["status"], _STATUSES),
        },
        columns=list(TRADE_COLUMNS),
    )


def run_backtest(
    bars: pl.DataFrame | OHLCV,
    strategy: Strategy,
    params: Mapping[str, Any] | None = None,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
) -> BacktestResult:
    """Backtest one parameter set (defaults overlaid with ``params``) over ``[start, stop)``.

    Raises ``ParameterError`` for a bad parameter and ``SettingsError`` for a bad setting.
    Open positions at the end are marked to the last close and reported with status 'open'
    (their pnl is unrealized).
    """
    settings = settings or BacktestSettings()
    ohlcv = OHLCV.from_bars(bars)
    signals = strategy_signals(ohlcv, strategy, [params or {}])
    periods = periods_per_year(infer_bar_ms(ohlcv.timestamp))
    arrays = simulate_orders(ohlcv, signals, settings, start, stop)
    table = metric_arrays(arrays, periods)
    stop = len(ohlcv) if stop is None else stop
    times = pd.to_datetime(ohlcv.timestamp[start:stop], unit="ms", utc=True)
    values = floor_at_ruin(arrays.values[:, 0])
    equity = pd.Series(values, index=times, name="equity")
    returns = pd.Series(
        returns_from_values(values, settings.init_cash), index=times, name="returns"
    )
    return BacktestResult(
        strategy=strategy.name,
        params=signals.params[0],
        settings=settings,
        metrics={name: float(table[name][0]) for name in METRIC_NAMES},
        trades=_trade_table(arrays.positions, times),
        equity=equity,
        returns=returns,
    )
