"""The event-driven engine (``engine_version`` v1): a strategy's signals traded bar by bar in
Backtrader.

The signals come from the strategy's own signal function (``strategy_signals``), the same
arrays the vectorized engine (v2, vectorbt) reads; here they are fed to Backtrader as extra
lines of the data feed and a Backtrader strategy trades them with Backtrader's broker, one
bar at a time. Nothing of vectorbt is used, so the two engines check each other.

The convention is the one ``orders`` describes, expressed in Backtrader's terms:

* ``next()`` sees bar ``t`` closed and reads its signals; with ``cheat_on_open``,
  ``next_open()`` runs when bar ``t + 1`` opens and places a market order that Backtrader
  fills at that open. A signal on the window's last bar is never traded.
* Signals resolve as in v2: an exit coinciding with an entry of the same side is dropped, a
  long and a short entry on the same bar cancel out, an entry against an open position
  reverses it in one order, an entry in the direction already held does nothing.
* All-in sizing: a buy spends all cash after fees and slippage (the open is known when the
  order is sized, which is what makes "all cash" exact; the decision itself only used bar
  ``t``). The buy keeps ``CASH_SAFETY`` of the cash unspent, because Backtrader rejects an
  order whose cost exceeds the cash by a rounding error. A short sells what the cash would
  buy; a reversal sells the position plus that. ``size_fraction`` below 1 spends that share.
* Fees are Backtrader's percentage commission on the filled value; slippage is
  ``set_slippage_perc`` on every fill (open fills too, beyond the bar's range if need be).
* Stops are resting orders placed after the entry fills (a ``Stop`` for the stop-loss, a
  ``Limit`` for the take-profit, one cancelling the other), live from the next bar; a bar on
  which one of them fills takes no signal, as in v2, where a stop hit comes first.
* Equity is the broker's value at every bar's close. Once it reaches zero the trader stops
  trading (the metrics floor the curve at ruin anyway, see ``metrics.floor_at_ruin``).

What Backtrader cannot express as v2 does is refused by ``check_supported``, naming the
setting. Round trips come from Backtrader's own trade notifications and are returned in the
position-record layout (``result.POSITION_DTYPE``) that the metrics read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import backtrader as bt
import numpy as np
import polars as pl

from maestro_pipeline.engine.backtest.orders import checked_window
from maestro_pipeline.engine.backtest.result import (
    CLOSED,
    LONG,
    OPEN,
    POSITION_DTYPE,
    SHORT,
    SimulationArrays,
    trading_until_ruin,
)
from maestro_pipeline.engine.backtest.settings import BacktestSettings, UnsupportedSetting
from maestro_pipeline.engine.strategy import OHLCV, SIGNAL_NAMES, Signals

# Unspent share of the cash on an all-in buy: float rounding must never make its cost exceed
# the cash (Backtrader would reject it). Equity differs from v2's by about this much.
CASH_SAFETY = 1.0 - 1e-12
# Backtrader's date numbers: days since 0001-01-01 (day 1); the epoch is day 719163.
_EPOCH_DAYNUM = 719_163.0
_MS_PER_DAY = 86_400_000.0


def check_supported(settings: BacktestSettings) -> None:
    """Refuse, naming the setting, what Backtrader cannot simulate as v2 does.

    Raises:
        UnsupportedSetting: a trailing stop (Backtrader's ``StopTrail`` follows the close,
            v2's trailing stop the bars' highs and lows), or stops with slippage (v2 fills a
            stop at its price without slippage, Backtrader's broker slips every fill).
    """
    if settings.trailing_stop:
        raise UnsupportedSetting(
            "trailing_stop",
            "is not supported by engine v1: Backtrader's StopTrail trails the close, engine "
            "v2 trails the highs (lows when short); use engine v2",
        )
    has_stops = settings.stop_loss is not None or settings.take_profit is not None
    if has_stops and settings.slippage > 0:
        name = "stop_loss" if settings.stop_loss is not None else "take_profit"
        raise UnsupportedSetting(
            name,
            "with slippage > 0 is not supported by engine v1: engine v2 fills stops at their "
            "price without slippage, Backtrader's broker slips every fill; set slippage to 0 "
            "or use engine v2",
        )


# Bits of the feed's ``signal`` line, one per signal (``SIGNAL_NAMES`` order).
_BITS = (1, 2, 4, 8)


class SignalFeed(bt.feed.DataBase):
    """Bars and their signals, from plain lists (one entry per bar).

    The four signals travel in one line, ``signal``, as bits (``_BITS``): every line costs
    time on every bar, and one line is read where four would be. The feed is always
    preloaded: the lists go into the lines' buffers in one step each, instead of
    Backtrader's bar-by-bar ``_load`` (a quarter of a short run's time). Its bars never
    update while forming, so it keeps no "tick" copies of them (the broker then reads the
    bar itself): another fifth of the time.
    """

    lines = ("signal",)
    params: ClassVar[tuple] = (("columns", None),)
    _FILLED = ("datetime", "open", "high", "low", "close", "volume", "signal")

    def preload(self) -> None:
        columns = self.p.columns
        for name, values in zip(self._FILLED, columns, strict=True):
            getattr(self.lines, name).array.extend(values)
        self.lines.openinterest.array.extend([0.0] * len(columns[0]))
        self._last()
        self.home()

    def _load(self) -> bool:
        raise RuntimeError("SignalFeed is preloaded: run Cerebro with preload=True")

    def _tick_fill(self, force: bool = False) -> None:
        return None

    def _tick_nullify(self) -> None:
        return None


class SignalTrader(bt.Strategy):
    """Trades the feed's signal lines under the convention of the module docstring.

    ``signals()`` is what a bar decided; subclasses may compute it from Backtrader's own
    indicators instead of the feed's lines (the parity tests' reference strategies do).
    """

    params: ClassVar[tuple] = (("settings", None),)

    def __init__(self) -> None:
        self.values: list[float] = []
        self.decision: tuple[bool, bool, bool, bool] | None = None
        self.rejected = 0
        self.ruined = False
        self.resting: list[bt.Order] = []
        self.open_trades: dict[int, list[Any]] = {}
        self.closed_trades: list[tuple[Any, ...]] = []
        self.last_fill_price = np.nan
        settings: BacktestSettings = self.p.settings
        self.fees = settings.fees
        self.slippage = settings.slippage
        self.fraction = settings.size_fraction
        self.direction = settings.direction
        self.stop_loss = settings.stop_loss
        self.take_profit = settings.take_profit
        self.setup()

    def setup(self) -> None:
        """Indicators of subclasses that compute their own signals."""

    def signals(self) -> tuple[bool, bool, bool, bool]:
        """Long entry, long exit, short entry, short exit decided on the current bar."""
        bits = int(self.data.signal[0])
        return (bits & 1 > 0, bits & 2 > 0, bits & 4 > 0, bits & 8 > 0)

    # Bar close: record the equity, read the decision.
    def prenext(self) -> None:
        self.values.append(self.broker.getvalue())
        self.decision = None

    def next(self) -> None:
        value = self.broker.getvalue()
        self.values.append(value)
        if value <= 0.0 and not self.ruined:
            self.ruined = True
            self._cancel_resting()
        self.decision = None if self.ruined else self.signals()

    # Next bar's open: act on the decision.
    def prenext_open(self) -> None:
        self.decision = None

    def next_open(self) -> None:
        decision, self.decision = self.decision, None
        if decision is None or self._resting_fill_now():
            return
        long_entry, long_exit, short_entry, short_exit = decision
        if self.direction == "long":
            short_entry = short_exit = False
        elif self.direction == "short":
            long_entry = long_exit = False
        long_exit = long_exit and not long_entry
        short_exit = short_exit and not short_entry
        if long_entry and short_entry:
            long_entry = short_entry = False
        position = self.position.size
        if position > 0:
            if short_entry:
                self._cancel_resting()
                self._reverse_to_short(position)
            elif long_exit:
                self._cancel_resting()
                self.sell(size=position)
        elif position < 0:
            if long_entry:
                self._cancel_resting()
                self._buy_all()
            elif short_exit:
                self._cancel_resting()
                self.buy(size=-position)
        elif long_entry:
            self._buy_all()
        elif short_entry:
            price = self.data.open[0] * (1.0 - self.slippage)
            self.sell(size=self.fraction * self.broker.getcash() / (price * (1.0 + self.fees)))

    def _buy_all(self) -> None:
        price = self.data.open[0] * (1.0 + self.slippage)
        size = self.fraction * self.broker.getcash() / (price * (1.0 + self.fees))
        self.buy(size=size * CASH_SAFETY if self.fraction >= 1.0 else size)

    def _reverse_to_short(self, position: float) -> None:
        # The position's sale and a short of what the cash then holds, in one order.
        price = self.data.open[0] * (1.0 - self.slippage)
        proceeds = position * price * (1.0 - self.fees)
        self.sell(size=position + (self.broker.getcash() + proceeds) / (price * (1.0 + self.fees)))

    # Stops: resting orders after an entry.
    def _place_stops(self, fill_price: float) -> None:
        position = self.position.size
        if position == 0 or (self.stop_loss is None and self.take_profit is None):
            return
        size, long = abs(position), position > 0
        close = self.sell if long else self.buy
        orders: list[bt.Order] = []
        if self.stop_loss is not None:
            factor = 1.0 - self.stop_loss if long else 1.0 + self.stop_loss
            orders.append(close(exectype=bt.Order.Stop, price=fill_price * factor, size=size))
        if self.take_profit is not None:
            factor = 1.0 + self.take_profit if long else 1.0 - self.take_profit
            orders.append(
                close(exectype=bt.Order.Limit, price=fill_price * factor, size=size,
                      oco=orders[0] if orders else None)
            )  # fmt: skip
        self.resting = orders

    def _resting_fill_now(self) -> bool:
        """Whether a resting stop or target fills on the bar now opening (it then comes
        first: the bar's signal is not traded). Backtrader's own fill conditions."""
        data = self.data
        low, high, open_ = data.low[0], data.high[0], data.open[0]
        for order in self.resting:
            if not order.alive():
                continue
            price = order.created.price
            falls = open_ <= price or low <= price
            rises = open_ >= price or high >= price
            if order.exectype == bt.Order.Stop:
                hit = falls if order.issell() else rises
            else:
                hit = rises if order.issell() else falls
            if hit:
                return True
        return False

    def _cancel_resting(self) -> None:
        for order in self.resting:
            if order.alive():
                self.cancel(order)
        self.resting = []

    # Backtrader's notifications: fills and round trips.
    def notify_order(self, order: bt.Order) -> None:
        if order.status in (order.Partial, order.Completed):
            if order.status == order.Partial:
                # A reversal's two halves (close, then open) are sized by Backtrader from
                # the order's size, and their float sum can miss it by an ulp: the order is
                # then "partial" with a dust remainder that would fill on the next bar.
                # It is complete in all but rounding: drop the dust.
                self.cancel(order)
            self.last_fill_price = order.executed.price
            if order.exectype == bt.Order.Market:
                self._place_stops(order.executed.price)
            elif self.position.size == 0:
                self.resting = []
        elif order.status in (order.Margin, order.Rejected):
            self.rejected += 1

    def notify_trade(self, trade: bt.Trade) -> None:
        bar = len(self.data) - 1
        if trade.justopened:
            side = LONG if trade.size > 0 else SHORT
            self.open_trades[trade.ref] = [bar, abs(trade.size), trade.price, trade.commission,
                                           side]  # fmt: skip
        elif trade.isclosed:
            entry_bar, size, entry_price, entry_fees, side = self.open_trades.pop(trade.ref)
            self.closed_trades.append(
                (size, entry_bar, entry_price, entry_fees, bar, self.last_fill_price,
                 trade.commission - entry_fees, trade.pnlcomm, side)
            )  # fmt: skip


def _feed_columns(
    ohlcv: OHLCV, start: int, stop: int, signal_columns: Sequence[np.ndarray] | None
) -> list[list[float]]:
    window = slice(start, stop)
    dates = _EPOCH_DAYNUM + ohlcv.timestamp[window] / _MS_PER_DAY
    bars = [dates, ohlcv.open[window], ohlcv.high[window], ohlcv.low[window],
            ohlcv.close[window], ohlcv.volume[window]]  # fmt: skip
    signal = np.zeros(stop - start)
    for bit, column in zip(_BITS, signal_columns or (), strict=False):
        signal += bit * np.asarray(column, dtype=bool)
    return [np.asarray(a, dtype=np.float64).tolist() for a in (*bars, signal)]


def run_events(
    ohlcv: OHLCV,
    settings: BacktestSettings,
    start: int,
    stop: int,
    signal_columns: Sequence[np.ndarray] | None = None,
    trader: type[SignalTrader] = SignalTrader,
    **trader_params: Any,
) -> tuple[np.ndarray, np.ndarray, SignalTrader]:
    """One Backtrader run over bars ``[start, stop)``: equity per bar, position records
    (column 0) and the finished trader.

    ``signal_columns`` are the four signals (``SIGNAL_NAMES`` order) of the window's bars;
    without them the feed's signal lines are false and ``trader`` decides by itself.
    """
    check_supported(settings)
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True, preload=True, runonce=True,
                         maxcpus=1)  # fmt: skip
    cerebro.adddata(SignalFeed(columns=_feed_columns(ohlcv, start, stop, signal_columns)))
    cerebro.addstrategy(trader, settings=settings, **trader_params)
    broker = cerebro.broker
    broker.setcash(settings.init_cash)
    broker.setcommission(commission=settings.fees)
    broker.set_slippage_perc(settings.slippage, slip_open=True, slip_match=True, slip_out=True)
    # Orders are checked for cash when they fill (an opening order short of cash is
    # rejected then), not when submitted: a resting stop must not be refused up front.
    broker.set_checksubmit(False)
    strategy: SignalTrader = cerebro.run()[0]
    values = np.asarray(strategy.values, dtype=np.float64)
    return values, _positions(strategy, ohlcv.close[stop - 1], stop - start), strategy


def _positions(trader: SignalTrader, last_close: float, n_bars: int) -> np.ndarray:
    """The trader's round trips as position records (the open one marked to the last close)."""
    rows = list(trader.closed_trades)
    for entry_bar, size, entry_price, entry_fees, side in trader.open_trades.values():
        rows.append((size, entry_bar, entry_price, entry_fees, n_bars - 1, last_close, 0.0,
                     None, side))  # fmt: skip
    records = np.zeros(len(rows), dtype=POSITION_DTYPE)
    for i, (size, entry_bar, entry_price, entry_fees, exit_bar, exit_price, exit_fees, pnl,
            side) in enumerate(rows):  # fmt: skip
        is_open = pnl is None
        if is_open:
            gain = size * (exit_price - entry_price)
            pnl = (gain if side == LONG else -gain) - entry_fees
        records[i] = (i, 0, size, entry_bar, entry_price, entry_fees, exit_bar, exit_price,
                      exit_fees, pnl, pnl / (size * entry_price), side,
                      OPEN if is_open else CLOSED, i)  # fmt: skip
    return records


def simulate_events(
    bars: pl.DataFrame | OHLCV,
    signals: Signals,
    settings: BacktestSettings | None = None,
    start: int = 0,
    stop: int | None = None,
    trader: type[SignalTrader] = SignalTrader,
) -> SimulationArrays:
    """Every column of ``signals`` over ``[start, stop)``, one Backtrader run per column.

    The same inputs and outputs as v2's ``simulate.simulate_orders``. Raises
    ``UnsupportedSetting`` for what v1 cannot express (``check_supported``).
    """
    settings = settings or BacktestSettings()
    check_supported(settings)
    ohlcv = OHLCV.from_bars(bars)
    stop = checked_window(ohlcv, signals, start, stop)
    values = np.empty((stop - start, signals.n_params))
    parts = []
    arrays = [getattr(signals, name) for name in SIGNAL_NAMES]
    for column in range(signals.n_params):
        columns = [a[start:stop, column] for a in arrays]
        values[:, column], records, _ = run_events(ohlcv, settings, start, stop, columns, trader)
        records["col"] = column
        parts.append(records)
    positions = np.concatenate(parts) if parts else np.zeros(0, dtype=POSITION_DTYPE)
    positions["id"] = np.arange(len(positions))
    # The trader stops at ruin already; the same rule as v2's, applied the same way.
    return SimulationArrays(values, trading_until_ruin(values, positions), settings.init_cash)
