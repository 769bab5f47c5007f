"""Simulations through vectorbt's from-signals kernel, on plain numpy arrays.

vectorbt receives numpy arrays only: with a tz-aware pandas index it runs ~40x slower under
pandas 3. Equity and position records come back as arrays; timestamps are reattached (UTC)
only by the callers that hand results to people.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from maestro_pipeline.engine.backtest.kernels import (
    simulate_both_sides,
    simulate_one_side,
    simulate_with_stops,
)
from maestro_pipeline.engine.backtest.orders import checked_window, order_arguments
from maestro_pipeline.engine.backtest.result import SimulationArrays, trading_until_ruin
from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.strategy import OHLCV, Signals
from maestro_pipeline.engine.vectorbt_kernels import kernels

portfolio_nb, records_nb, _, enums = kernels()


_FALSE = np.asarray(False)
_NAN = np.asarray(np.nan)
# Defaults of vectorbt's kernel for the arguments a simulation may leave unset.
_KERNEL_DEFAULTS = {
    "entries": _FALSE,
    "exits": _FALSE,
    "direction": np.asarray(enums.Direction.LongOnly),
    "long_entries": _FALSE,
    "long_exits": _FALSE,
    "short_entries": _FALSE,
    "short_exits": _FALSE,
    "size": np.asarray(np.inf),
    "size_type": np.asarray(enums.SizeType.Amount),
    "open": _NAN,
    "high": _NAN,
    "low": _NAN,
    "sl_stop": _NAN,
    "sl_trail": _FALSE,
    "tp_stop": _NAN,
    "stop_entry_price": np.asarray(enums.StopEntryPrice.Close),
}

_ENUM_ARGUMENTS = {
    "direction": {
        "longonly": enums.Direction.LongOnly,
        "shortonly": enums.Direction.ShortOnly,
    },
    "size_type": {"percent": enums.SizeType.Percent},
    "stop_entry_price": {"fillprice": enums.StopEntryPrice.FillPrice},
}


def simulate_orders(
    bars: pl.DataFrame | OHLCV,
    signals: Signals,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
) -> SimulationArrays:
    """Simulate every column of ``signals`` over ``[start, stop)`` in one vectorbt kernel call.

    Runs ``vectorbt.portfolio.nb.simulate_from_signals_nb`` (what ``Portfolio.from_signals``
    runs) on the window, each column with its own cash, and returns equity per bar and
    position records.
    """
    settings = settings or BacktestSettings()
    ohlcv = OHLCV.from_bars(bars)
    stop = checked_window(ohlcv, signals, start, stop)
    kwargs = order_arguments(ohlcv, signals, settings, start, stop)
    shape = (stop - start, signals.n_params)
    close = kwargs.pop("close")
    init_cash = kwargs.pop("init_cash")
    max_orders = kwargs.pop("max_orders")
    if "short_entries" in kwargs:
        kwargs["long_entries"] = kwargs.pop("entries")
        kwargs["long_exits"] = kwargs.pop("exits")
    for name, codes in _ENUM_ARGUMENTS.items():
        if name in kwargs:
            kwargs[name] = codes[kwargs[name]]
    use_stops = "sl_stop" in kwargs or "tp_stop" in kwargs
    arg = {**_KERNEL_DEFAULTS, **{name: np.asarray(value) for name, value in kwargs.items()}}
    head = (
        shape,
        np.ones(shape[1], dtype=np.int64),  # one column per group: no shared cash
        np.full(shape[1], float(init_cash)),
        np.zeros(shape, dtype=np.int64),  # call sequence, unused without cash sharing
    )
    costs = (arg["size"], arg["price"], arg["size_type"], arg["fees"], arg["slippage"])
    if use_stops:
        orders, _ = simulate_with_stops(
            *head, arg["entries"], arg["exits"], arg["direction"], arg["long_entries"],
            arg["long_exits"], arg["short_entries"], arg["short_exits"], *costs, arg["open"],
            arg["high"], arg["low"], close, arg["sl_stop"], arg["sl_trail"], arg["tp_stop"],
            arg["stop_entry_price"], max_orders,
        )  # fmt: skip
    elif "long_entries" in kwargs:
        orders, _ = simulate_both_sides(
            *head, arg["long_entries"], arg["long_exits"], arg["short_entries"],
            arg["short_exits"], *costs, close, max_orders,
        )  # fmt: skip
    else:
        orders, _ = simulate_one_side(
            *head, arg["entries"], arg["exits"], arg["direction"], *costs, close, max_orders
        )
    return arrays_from_orders(orders, np.broadcast_to(close, shape), float(init_cash))


def arrays_from_orders(orders: np.ndarray, close: np.ndarray, init_cash: float) -> SimulationArrays:
    """Equity and positions from order records with vectorbt's numba kernels.

    ``Portfolio.value()`` and ``.positions`` compute the same numbers, but their pandas
    wrapping costs a few milliseconds per call, more than the simulation itself.
    """
    shape = close.shape
    col_map = records_nb.col_map_nb(orders["col"], shape[1])
    assets = portfolio_nb.assets_nb(
        portfolio_nb.asset_flow_nb(shape, orders, col_map, enums.Direction.Both)
    )
    cash = portfolio_nb.cash_nb(
        portfolio_nb.cash_flow_nb(shape, orders, col_map, False),
        np.full(shape[1], init_cash),
    )
    values = portfolio_nb.value_nb(cash, portfolio_nb.asset_value_nb(close, assets))
    trades = portfolio_nb.get_exit_trades_nb(orders, close, col_map)
    positions = portfolio_nb.get_positions_nb(
        trades, records_nb.col_map_nb(trades["col"], shape[1])
    )
    return SimulationArrays(values, trading_until_ruin(values, positions), init_cash)
