"""Backtests on vectorbt: one parameter set, or many as the columns of one simulation.

Fill convention (applied identically everywhere, the Backtrader reference included): a signal
computed on bar ``t`` (its close included) is filled at bar ``t + 1``'s open, buying or
selling with all available equity (``size_fraction`` = 1) after fees and slippage. The signal
arrays are shifted one bar forward and vectorbt fills at ``price = open``. A signal on the
last bar has no next bar and is not traded. Fees and slippage are fractions of the traded
value (0.001 = 0.1 %); slippage moves the fill price against the trade. Optional stops are
fractions of the entry price, checked against each later bar's high and low.

vectorbt receives plain numpy arrays: with a tz-aware pandas index it runs ~40x slower under
pandas 3. Timestamps are reattached (UTC) only in the results handed back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
import vectorbt as vbt
from numba import njit
from vectorbt.portfolio import enums as vbt_enums
from vectorbt.portfolio import nb as vbt_portfolio_nb
from vectorbt.records import nb as vbt_records_nb

from maestro_pipeline.engine.metrics import (
    METRIC_NAMES,
    floor_at_ruin,
    periods_per_year,
    return_metrics,
    returns_from_values,
)
from maestro_pipeline.engine.metrics import trade_metrics as _trade_metrics
from maestro_pipeline.engine.strategy import OHLCV, Signals, Strategy, strategy_signals

Direction = Literal["long", "short", "both"]
_VBT_DIRECTION = {"long": "longonly", "short": "shortonly"}


class SettingsError(ValueError):
    """A backtest setting (fees, slippage, direction, stops...) is invalid."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"setting '{setting}' {message}")


@dataclass(frozen=True)
class BacktestSettings:
    """Costs, direction, sizing and stops of a simulation."""

    fees: float = 0.001
    slippage: float = 0.0
    direction: Direction = "long"
    size_fraction: float = 1.0
    init_cash: float = 10_000.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: bool = False

    def __post_init__(self) -> None:
        def fraction(name: str, value: float | None, low: float, high: float) -> None:
            if value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(name, f"must be a number, got {value!r}")
            if not (math.isfinite(value) and low <= value < high):
                raise SettingsError(name, f"must be within [{low}, {high}), got {value}")

        fraction("fees", self.fees, 0.0, 0.5)
        fraction("slippage", self.slippage, 0.0, 0.5)
        fraction("size_fraction", self.size_fraction, 1e-6, 1.0 + 1e-12)
        fraction("init_cash", self.init_cash, 1e-9, math.inf)
        fraction("stop_loss", self.stop_loss, 1e-6, 1.0)
        fraction("take_profit", self.take_profit, 1e-6, math.inf)
        if self.direction not in ("long", "short", "both"):
            raise SettingsError(
                "direction", f"must be one of long, short, both; got {self.direction!r}"
            )
        if self.direction == "both" and self.size_fraction < 1.0:
            # vectorbt cannot reverse a position sized as a percentage of cash.
            raise SettingsError(
                "size_fraction", "must be 1 when direction is 'both' (reversals are all-in)"
            )
        if self.trailing_stop and self.stop_loss is None:
            raise SettingsError("trailing_stop", "needs stop_loss (the trailing distance)")


def infer_bar_ms(timestamps_ms: np.ndarray) -> int:
    """The bar length: the smallest spacing between consecutive timestamps."""
    if len(timestamps_ms) < 2:
        raise ValueError("need at least two bars to infer the bar length")
    return int(np.diff(timestamps_ms).min())


def _shifted(signal: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Signals of bars [start-1, stop-1) placed on [start, stop): decided at t, filled at t+1.

    The bar before the window belongs to the previous window, so the window's first bar
    never fills an order.
    """
    out = np.empty((stop - start, signal.shape[1]), dtype=np.bool_)
    out[0] = False
    out[1:] = signal[start : stop - 1]
    return out


def _window(ohlcv: OHLCV, signals: Signals, start: int, stop: int | None) -> int:
    stop = len(ohlcv) if stop is None else stop
    if not 0 <= start < stop <= len(ohlcv):
        raise ValueError(f"window [{start}, {stop}) is outside the {len(ohlcv)} bars")
    if signals.long_entries.shape[0] != len(ohlcv):
        raise ValueError("signals and bars differ in length: compute them on the same bars")
    return stop


def _order_arguments(
    ohlcv: OHLCV, signals: Signals, settings: BacktestSettings, start: int, stop: int
) -> dict[str, Any]:
    """vectorbt's from-signals arguments, as Portfolio.from_signals names them."""
    kwargs: dict[str, Any] = {
        # Price columns of shape (n, 1): vectorbt broadcasts them against the signal columns.
        "close": ohlcv.close[start:stop, None],
        "price": ohlcv.open[start:stop, None],
        "fees": settings.fees,
        "slippage": settings.slippage,
        "init_cash": settings.init_cash,
    }
    if settings.size_fraction < 1.0:
        kwargs.update(size=settings.size_fraction, size_type="percent")
    if settings.stop_loss is not None or settings.take_profit is not None:
        # Stops are checked against each later bar's open, high and low, and measured from
        # the actual fill (vectorbt's default is the entry bar's close).
        kwargs.update(
            open=ohlcv.open[start:stop, None],
            high=ohlcv.high[start:stop, None],
            low=ohlcv.low[start:stop, None],
            stop_entry_price="fillprice",
        )
    if settings.stop_loss is not None:
        kwargs.update(sl_stop=settings.stop_loss, sl_trail=settings.trailing_stop)
    if settings.take_profit is not None:
        kwargs["tp_stop"] = settings.take_profit
    if settings.direction == "both":
        kwargs.update(
            entries=_shifted(signals.long_entries, start, stop),
            exits=_shifted(signals.long_exits, start, stop),
            short_entries=_shifted(signals.short_entries, start, stop),
            short_exits=_shifted(signals.short_exits, start, stop),
        )
    else:
        long = settings.direction == "long"
        kwargs.update(
            entries=_shifted(signals.long_entries if long else signals.short_entries, start, stop),
            exits=_shifted(signals.long_exits if long else signals.short_exits, start, stop),
            direction=_VBT_DIRECTION[settings.direction],
        )
    # vectorbt preallocates one order record per cell unless told otherwise (~90 MB for
    # 100 columns of a year of hours); every order needs a signal, so the signal count
    # bounds them (x2 for reversals, plus one stop exit per entry).
    signal_count = sum(
        np.count_nonzero(kwargs[name])
        for name in ("entries", "exits", "short_entries", "short_exits")
        if name in kwargs
    )
    kwargs["max_orders"] = 2 * signal_count + signals.n_params
    return kwargs


@dataclass(frozen=True)
class SimulationArrays:
    """Equity and round trips of a simulation as plain arrays (rows = bars, cols = sets)."""

    values: np.ndarray
    positions: np.ndarray
    init_cash: float


def simulate_signals(
    bars: pl.DataFrame | OHLCV,
    signals: Signals,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
) -> vbt.Portfolio:
    """A vectorbt ``Portfolio`` of every column of ``signals`` over bars ``[start, stop)``.

    For vectorbt's own analytics and plots. ``evaluate_signals`` and ``run_backtest`` run
    the same simulation through vectorbt's kernel directly, skipping the portfolio's pandas
    wrapping (a test keeps the two paths identical).
    """
    settings = settings or BacktestSettings()
    ohlcv = OHLCV.from_bars(bars)
    stop = _window(ohlcv, signals, start, stop)
    kwargs = _order_arguments(ohlcv, signals, settings, start, stop)
    return vbt.Portfolio.from_signals(kwargs.pop("close"), **kwargs)


# vectorbt's from-signals kernel, compiled with only the arguments a simulation sets: the
# arguments left out keep vectorbt's defaults as compile-time constants, which makes the
# per-bar loop ~25 % faster than passing every argument. Compiled (and cached on disk) as
# small wrappers, the kernel starts in milliseconds instead of being recompiled in every
# process, and Python calls them with positional arrays only, numba's fast dispatch path.
# numba does not track vectorbt's source: after upgrading vectorbt, clear __pycache__.


@njit(cache=True)
def _simulate_one_side(
    target_shape, group_lens, init_cash, call_seq, entries, exits, direction, size, price,
    size_type, fees, slippage, close, max_orders,
):  # fmt: skip
    """Long-only or short-only, no stops."""
    return vbt_portfolio_nb.simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, entries=entries, exits=exits,
        direction=direction, size=size, price=price, size_type=size_type, fees=fees,
        slippage=slippage, close=close, use_stops=False, max_orders=max_orders, flex_2d=True,
    )  # fmt: skip


@njit(cache=True)
def _simulate_both_sides(
    target_shape, group_lens, init_cash, call_seq, long_entries, long_exits, short_entries,
    short_exits, size, price, size_type, fees, slippage, close, max_orders,
):  # fmt: skip
    """Long and short signals, no stops."""
    return vbt_portfolio_nb.simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, long_entries=long_entries,
        long_exits=long_exits, short_entries=short_entries, short_exits=short_exits,
        size=size, price=price, size_type=size_type, fees=fees, slippage=slippage,
        close=close, use_stops=False, max_orders=max_orders, flex_2d=True,
    )  # fmt: skip


@njit(cache=True)
def _simulate_with_stops(
    target_shape, group_lens, init_cash, call_seq, entries, exits, direction, long_entries,
    long_exits, short_entries, short_exits, size, price, size_type, fees, slippage, open_,
    high, low, close, sl_stop, sl_trail, tp_stop, stop_entry_price, max_orders,
):  # fmt: skip
    """Any direction with stop-loss / take-profit checked on each bar's open, high, low."""
    return vbt_portfolio_nb.simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, entries=entries, exits=exits,
        direction=direction, long_entries=long_entries, long_exits=long_exits,
        short_entries=short_entries, short_exits=short_exits, size=size, price=price,
        size_type=size_type, fees=fees, slippage=slippage, open=open_, high=high, low=low,
        close=close, sl_stop=sl_stop, sl_trail=sl_trail, tp_stop=tp_stop,
        stop_entry_price=stop_entry_price, use_stops=True, max_orders=max_orders,
        flex_2d=True,
    )  # fmt: skip


_FALSE = np.asarray(False)
_NAN = np.asarray(np.nan)
# Defaults of vectorbt's kernel for the arguments a simulation may leave unset.
_KERNEL_DEFAULTS = {
    "entries": _FALSE,
    "exits": _FALSE,
    "direction": np.asarray(vbt_enums.Direction.LongOnly),
    "long_entries": _FALSE,
    "long_exits": _FALSE,
    "short_entries": _FALSE,
    "short_exits": _FALSE,
    "size": np.asarray(np.inf),
    "size_type": np.asarray(vbt_enums.SizeType.Amount),
    "open": _NAN,
    "high": _NAN,
    "low": _NAN,
    "sl_stop": _NAN,
    "sl_trail": _FALSE,
    "tp_stop": _NAN,
    "stop_entry_price": np.asarray(vbt_enums.StopEntryPrice.Close),
}

_ENUM_ARGUMENTS = {
    "direction": {
        "longonly": vbt_enums.Direction.LongOnly,
        "shortonly": vbt_enums.Direction.ShortOnly,
    },
    "size_type": {"percent": vbt_enums.SizeType.Percent},
    "stop_entry_price": {"fillprice": vbt_enums.StopEntryPrice.FillPrice},
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
    stop = _window(ohlcv, signals, start, stop)
    kwargs = _order_arguments(ohlcv, signals, settings, start, stop)
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
        orders, _ = _simulate_with_stops(
            *head, arg["entries"], arg["exits"], arg["direction"], arg["long_entries"],
            arg["long_exits"], arg["short_entries"], arg["short_exits"], *costs, arg["open"],
            arg["high"], arg["low"], close, arg["sl_stop"], arg["sl_trail"], arg["tp_stop"],
            arg["stop_entry_price"], max_orders,
        )  # fmt: skip
    elif "long_entries" in kwargs:
        orders, _ = _simulate_both_sides(
            *head, arg["long_entries"], arg["long_exits"], arg["short_entries"],
            arg["short_exits"], *costs, close, max_orders,
        )  # fmt: skip
    else:
        orders, _ = _simulate_one_side(
            *head, arg["entries"], arg["exits"], arg["direction"], *costs, close, max_orders
        )
    return _arrays_from_orders(orders, np.broadcast_to(close, shape), float(init_cash))


def simulation_arrays(portfolio: vbt.Portfolio) -> SimulationArrays:
    """Equity per bar and position records of a ``Portfolio`` (same as ``.value()``)."""
    return _arrays_from_orders(
        portfolio.order_records,
        np.asarray(portfolio.close, dtype=np.float64),
        float(np.asarray(portfolio.init_cash).ravel()[0]),
    )


def _arrays_from_orders(
    orders: np.ndarray, close: np.ndarray, init_cash: float
) -> SimulationArrays:
    """Equity and positions from order records with vectorbt's numba kernels.

    ``Portfolio.value()`` and ``.positions`` compute the same numbers, but their pandas
    wrapping costs a few milliseconds per call, more than the simulation itself.
    """
    shape = close.shape
    col_map = vbt_records_nb.col_map_nb(orders["col"], shape[1])
    assets = vbt_portfolio_nb.assets_nb(
        vbt_portfolio_nb.asset_flow_nb(shape, orders, col_map, vbt_enums.Direction.Both)
    )
    cash = vbt_portfolio_nb.cash_nb(
        vbt_portfolio_nb.cash_flow_nb(shape, orders, col_map, False),
        np.full(shape[1], init_cash),
    )
    values = vbt_portfolio_nb.value_nb(cash, vbt_portfolio_nb.asset_value_nb(close, assets))
    trades = vbt_portfolio_nb.get_exit_trades_nb(orders, close, col_map)
    positions = vbt_portfolio_nb.get_positions_nb(
        trades, vbt_records_nb.col_map_nb(trades["col"], shape[1])
    )
    return SimulationArrays(values, positions, init_cash)


def portfolio_metrics(portfolio: vbt.Portfolio, periods: float) -> pd.DataFrame:
    """The metrics table of a simulated portfolio: one row per column (parameter set)."""
    arrays = simulation_arrays(portfolio)
    return _metrics_table(arrays, periods)


def _metric_arrays(arrays: SimulationArrays, periods: float) -> dict[str, np.ndarray]:
    n_bars, n_cols = arrays.values.shape
    records = arrays.positions
    table = return_metrics(arrays.values, arrays.init_cash, periods)
    table.update(
        _trade_metrics(
            records["col"],
            records["entry_idx"],
            records["exit_idx"],
            records["status"] == vbt_enums.TradeStatus.Open,
            records["pnl"],
            records["return"],
            n_cols,
            n_bars,
        )
    )
    return table


def _metrics_table(arrays: SimulationArrays, periods: float) -> pd.DataFrame:
    table = _metric_arrays(arrays, periods)
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
    return _metrics_table(simulate_orders(ohlcv, signals, settings, start, stop), periods)


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
    is_open = records["status"] == vbt_enums.TradeStatus.Open
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
    metric_arrays = _metric_arrays(arrays, periods)
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
        metrics={name: float(metric_arrays[name][0]) for name in METRIC_NAMES},
        trades=_trade_table(arrays.positions, times),
        equity=equity,
        returns=returns,
    )
