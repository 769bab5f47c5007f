"""What one backtest returns, whichever engine ran it (``engines.backtest``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from maestro_pipeline.engine.backtest.settings import BacktestSettings


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


@dataclass(frozen=True)
class SimulationArrays:
    """Equity and round trips of a simulation as plain arrays (rows = bars, cols = sets).

    ``positions`` holds one record per round trip, in the layout of vectorbt's position
    records (``POSITION_DTYPE``), whichever engine simulated: the study code reads them by
    field name.
    """

    values: np.ndarray
    positions: np.ndarray
    init_cash: float


# vectorbt's position record layout (``vectorbt.portfolio.enums.trade_dt``): direction 0 is
# long and 1 short, status 0 open and 1 closed; an open position's exit is the last bar's close.
POSITION_DTYPE = np.dtype(
    {
        "names": ["id", "col", "size", "entry_idx", "entry_price", "entry_fees", "exit_idx",
                  "exit_price", "exit_fees", "pnl", "return", "direction", "status",
                  "parent_id"],
        "formats": ["<i8", "<i8", "<f8", "<i8", "<f8", "<f8", "<i8", "<f8", "<f8", "<f8",
                    "<f8", "<i8", "<i8", "<i8"],
    },
    align=True,
)  # fmt: skip
LONG, SHORT = 0, 1
OPEN, CLOSED = 0, 1


def trading_until_ruin(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Position records of the trading that happened before ruin, per column.

    Ruin (equity at or below zero at a bar's close) ends a curve: ``metrics.floor_at_ruin``
    keeps it at zero from there, as a broker would have liquidated the account. Trading ends
    there too: positions entered after the ruin bar are dropped and the one open through it
    stays open (its loss is the curve's; it has no exit of its own). Without ruin the records
    come back unchanged (and uncopied).
    """
    ruined = values <= 0.0
    if not ruined.any():
        return positions
    n_bars = values.shape[0]
    ruin_bar = np.where(ruined.any(axis=0), ruined.argmax(axis=0), n_bars)[positions["col"]]
    kept = positions[positions["entry_idx"] <= ruin_bar].copy()
    through = kept["exit_idx"] > ruin_bar[positions["entry_idx"] <= ruin_bar]
    kept["status"][through] = OPEN
    kept["exit_idx"][through] = n_bars - 1
    kept["id"] = np.arange(len(kept))
    return kept
