"""Backtests on vectorbt's simulation kernel: one parameter set, or many as columns of one run.

Public names are imported from here; each lives in a small module of its own and is loaded on
first use, so that ``from maestro_pipeline.engine.backtest import BacktestSettings`` does not
load numba and vectorbt (module ``__getattr__``, PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maestro_pipeline.engine.lazy import lazy_exports

_EXPORTS = {
    "BacktestSettings": "settings",
    "Direction": "settings",
    "SettingsError": "settings",
    "infer_bar_ms": "orders",
    "SimulationArrays": "result",
    "simulate_orders": "simulate",
    "BacktestResult": "result",
    "TRADE_COLUMNS": "result",
    "evaluate_signals": "run",
    "metrics_table": "run",
    "run_backtest": "run",
    "portfolio_metrics": "portfolio",
    "simulate_signals": "portfolio",
    "simulation_arrays": "portfolio",
}

__all__ = [
    "TRADE_COLUMNS",
    "BacktestResult",
    "BacktestSettings",
    "Direction",
    "SettingsError",
    "SimulationArrays",
    "evaluate_signals",
    "infer_bar_ms",
    "metrics_table",
    "portfolio_metrics",
    "run_backtest",
    "simulate_orders",
    "simulate_signals",
    "simulation_arrays",
]

if TYPE_CHECKING:
    from maestro_pipeline.engine.backtest.orders import infer_bar_ms
    from maestro_pipeline.engine.backtest.portfolio import (
        portfolio_metrics,
        simulate_signals,
        simulation_arrays,
    )
    from maestro_pipeline.engine.backtest.result import (
        TRADE_COLUMNS,
        BacktestResult,
        SimulationArrays,
    )
    from maestro_pipeline.engine.backtest.run import (
        evaluate_signals,
        metrics_table,
        run_backtest,
    )
    from maestro_pipeline.engine.backtest.settings import (
        BacktestSettings,
        Direction,
        SettingsError,
    )
    from maestro_pipeline.engine.backtest.simulate import simulate_orders

__getattr__ = lazy_exports(__name__, _EXPORTS)
