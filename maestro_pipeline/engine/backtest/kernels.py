"""vectorbt's from-signals kernel, compiled with only the arguments a simulation sets.

The arguments left out keep vectorbt's defaults as compile-time constants, which makes the
per-bar loop ~25 % faster than passing every argument. Compiled (and cached on disk) as small
wrappers, the kernel starts in milliseconds instead of being recompiled in every process, and
Python calls them with positional arrays only, numba's fast dispatch path. numba keys its cache
on this file's source: it lives apart so that edits elsewhere do not recompile it; numba does
not track vectorbt's source, so clear ``__pycache__`` after upgrading vectorbt.
"""

from numba import njit

from maestro_pipeline.engine.vectorbt_kernels import kernels

portfolio_nb = kernels().portfolio_nb


@njit(cache=True)
def simulate_one_side(
    target_shape, group_lens, init_cash, call_seq, entries, exits, direction, size, price,
    size_type, fees, slippage, close, max_orders,
):  # fmt: skip
    """Long-only or short-only, no stops."""
    return portfolio_nb.simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, entries=entries, exits=exits,
        direction=direction, size=size, price=price, size_type=size_type, fees=fees,
        slippage=slippage, close=close, use_stops=False, max_orders=max_orders, flex_2d=True,
    )  # fmt: skip


@njit(cache=True)
def simulate_both_sides(
    target_shape, group_lens, init_cash, call_seq, long_entries, long_exits, short_entries,
    short_exits, size, price, size_type, fees, slippage, close, max_orders,
):  # fmt: skip
    """Long and short signals, no stops."""
    return portfolio_nb.simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, long_entries=long_entries,
        long_exits=long_exits, short_entries=short_entries, short_exits=short_exits,
        size=size, price=price, size_type=size_type, fees=fees, slippage=slippage,
        close=close, use_stops=False, max_orders=max_orders, flex_2d=True,
    )  # fmt: skip


@njit(cache=True)
def simulate_with_stops(
    target_shape, group_lens, init_cash, call_seq, entries, exits, direction, long_entries,
    long_exits, short_entries, short_exits, size, price, size_type, fees, slippage, open_,
    high, low, close, sl_stop, sl_trail, tp_stop, stop_entry_price, max_orders,
):  # fmt: skip
    """Any direction with stop-loss / take-profit checked on each bar's open, high, low."""
    return portfolio_nb.simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, entries=entries, exits=exits,
        direction=direction, long_entries=long_entries, long_exits=long_exits,
        short_entries=short_entries, short_exits=short_exits, size=size, price=price,
        size_type=size_type, fees=fees, slippage=slippage, open=open_, high=high, low=low,
        close=close, sl_stop=sl_stop, sl_trail=sl_trail, tp_stop=tp_stop,
        stop_entry_price=stop_entry_price, use_stops=True, max_orders=max_orders,
        flex_2d=True,
    )  # fmt: skip
