"""A full ``vectorbt.Portfolio`` of the same simulation, for vectorbt's own analytics and plots.

The engine's hot paths (``evaluate_signals``, ``run_backtest``) call vectorbt's kernel directly
and skip the portfolio's pandas wrapping; a test keeps the two paths identical. Importing the
whole of vectorbt costs seconds, so it happens here only, when a portfolio is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl

from maestro_pipeline.engine.backtest.orders import checked_window, order_arguments
from maestro_pipeline.engine.backtest.run import metrics_table
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.backtest.simulate import SimulationArrays, arrays_from_orders
from maestro_pipeline.engine.strategy import OHLCV, Signals

if TYPE_CHECKING:
    import vectorbt as vbt


def simulate_signals(
    bars: pl.DataFrame | OHLCV,
    signals: Signals,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
) -> vbt.Portfolio:
    """A vectorbt ``Portfolio`` of every column of ``signals`` over bars ``[start, stop)``."""
    import vectorbt as vbt

    settings = settings or BacktestSettings()
    ohlcv = OHLCV.from_bars(bars)
    stop = checked_window(ohlcv, signals, start, stop)
    kwargs = order_arguments(ohlcv, signals, settings, start, stop)
    return vbt.Portfolio.from_signals(kwargs.pop("close"), **kwargs)


def simulation_arrays(portfolio: vbt.Portfolio) -> SimulationArrays:
    """Equity per bar and position records of a ``Portfolio`` (same as ``.value()``)."""
    return arrays_from_orders(
        portfolio.order_records,
        np.asarray(portfolio.close, dtype=np.float64),
        float(np.asarray(portfolio.init_cash).ravel()[0]),
    )


def portfolio_metrics(portfolio: vbt.Portfolio, periods: float) -> pd.DataFrame:
    """The metrics table of a simulated portfolio: one row per column (parameter set)."""
    return metrics_table(simulation_arrays(portfolio), periods)
