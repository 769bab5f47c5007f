"""Metrics, trade lists and results of a simulation, whichever engine produced it.

Both engines hand back ``SimulationArrays`` (equity per bar and position records in one
layout); everything people read is computed from them here, with the same formulas, so the
engines differ only in how they simulate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maestro_pipeline.engine.backtest.result import (
    OPEN,
    TRADE_COLUMNS,
    BacktestResult,
    SimulationArrays,
)
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.metrics import (
    METRIC_NAMES,
    floor_at_ruin,
    return_metrics,
    returns_from_values,
    trade_metrics,
)
from maestro_pipeline.engine.strategy import OHLCV, Signals, Strategy


def metric_arrays(arrays: SimulationArrays, periods: float) -> dict[str, np.ndarray]:
    """Every metric of every column, as one array per metric name."""
    n_bars, n_cols = arrays.values.shape
    records = arrays.positions
    table = return_metrics(arrays.values, arrays.init_cash, periods)
    table.update(
        trade_metrics(
            records["col"],
            records["entry_idx"],
            records["exit_idx"],
            records["status"] == OPEN,
            records["pnl"],
            records["return"],
            n_cols,
            n_bars,
        )
    )
    return table


def metrics_table(arrays: SimulationArrays, periods: float) -> pd.DataFrame:
    """The metrics table: one row per column (parameter set), ``METRIC_NAMES`` columns."""
    table = metric_arrays(arrays, periods)
    return pd.DataFrame({name: table[name] for name in METRIC_NAMES})


_SIDES = ("long", "short")  # position direction codes 0 and 1
_STATUSES = ("open", "closed")  # position status codes 0 and 1


def trade_table(records: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    """Position records as the trade list (``TRADE_COLUMNS``) with UTC times."""
    is_open = records["status"] == OPEN
    return pd.DataFrame(
        {
            # Categoricals from the codes: pandas 3 builds string columns slowly.
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


def backtest_result(
    ohlcv: OHLCV,
    strategy: Strategy,
    signals: Signals,
    settings: BacktestSettings,
    arrays: SimulationArrays,
    periods: float,
    start: int,
    stop: int,
) -> BacktestResult:
    """One simulated parameter set (column 0) as a ``BacktestResult``."""
    table = metric_arrays(arrays, periods)
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
        trades=trade_table(arrays.positions, times),
        equity=equity,
        returns=returns,
    )
