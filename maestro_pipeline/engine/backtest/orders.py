"""From signals to vectorbt's from-signals arguments: the fill convention in one place.

A signal computed on bar ``t`` (its close included) is filled at bar ``t + 1``'s open, buying or
selling with all available equity (``size_fraction`` = 1) after fees and slippage: the signal
arrays are shifted one bar forward and vectorbt fills at ``price = open``. A signal on the last
bar has no next bar and is not traded. Fees and slippage are fractions of the traded value
(0.001 = 0.1 %); slippage moves the fill price against the trade. Optional stops are fractions
of the entry price, checked against each later bar's open, high and low.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from maestro_pipeline.engine.backtest.settings import BacktestSettings
from maestro_pipeline.engine.strategy import OHLCV, Signals

_VBT_DIRECTION = {"long": "longonly", "short": "shortonly"}


def infer_bar_ms(timestamps_ms: np.ndarray) -> int:
    """The bar length: the smallest spacing between consecutive timestamps."""
    if len(timestamps_ms) < 2:
        raise ValueError("need at least two bars to infer the bar length")
    return int(np.diff(timestamps_ms).min())


def shifted(signal: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Signals of bars [start-1, stop-1) placed on [start, stop): decided at t, filled at t+1.

    The bar before the window belongs to the previous window, so the window's first bar
    never fills an order.
    """
    out = np.empty((stop - start, signal.shape[1]), dtype=np.bool_)
    out[0] = False
    out[1:] = signal[start : stop - 1]
    return out


def checked_window(ohlcv: OHLCV, signals: Signals, start: int, stop: int | None) -> int:
    """The window's stop index; a clear error when ``[start, stop)`` is not within the bars."""
    stop = len(ohlcv) if stop is None else stop
    if not 0 <= start < stop <= len(ohlcv):
        raise ValueError(f"window [{start}, {stop}) is outside the {len(ohlcv)} bars")
    if signals.long_entries.shape[0] != len(ohlcv):
        raise ValueError("signals and bars differ in length: compute them on the same bars")
    return stop


def order_arguments(
    ohlcv: OHLCV, signals: Signals, settings: BacktestSettings, start: int, stop: int
) -> dict[str, Any]:
    """vectorbt's from-signals arguments, as ``Portfolio.from_signals`` names them."""
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
            entries=shifted(signals.long_entries, start, stop),
            exits=shifted(signals.long_exits, start, stop),
            short_entries=shifted(signals.short_entries, start, stop),
            short_exits=shifted(signals.short_exits, start, stop),
        )
    else:
        long = settings.direction == "long"
        kwargs.update(
            entries=shifted(signals.long_entries if long else signals.short_entries, start, stop),
            exits=shifted(signals.long_exits if long else signals.short_exits, start, stop),
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
