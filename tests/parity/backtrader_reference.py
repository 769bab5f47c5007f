"""The old engine, re-implemented on Backtrader as the reference for parity tests.

Each reference strategy rebuilds one Maestro rule from Backtrader's own indicators, bar by
bar, and decides in Backtrader; the trading itself is the runtime event-driven engine's
(``engine.backtest.event_driven.SignalTrader``: engine v1), which here reads the decision
from ``signals()`` instead of the vectorized signals the engine feeds it. So the parity tests
compare two independent computations of the signals (Backtrader indicators against Maestro's
numba/numpy indicators) and two independent simulations (Backtrader's broker against
vectorbt).

Fill convention, identical to Maestro's: ``next()`` sees bar ``t`` closed and decides;
``next_open()`` (``cheat_on_open=True``) runs when bar ``t + 1`` opens and places a market
order, which Backtrader fills at that open. The buy size spends all cash after fees and
slippage, as vectorbt's ``size=inf`` does (see ``event_driven`` for the details).

Indicator definitions match Maestro's:

* EMA: Backtrader's ``EMA`` (seeded with the SMA of the first ``n`` values) = ``ema``.
* RSI and ATR: Backtrader's ``RSI``/``ATR`` use Wilder's smoothed average seeded with an SMA
  = ``wilder``. With no down move in the window Backtrader's safe division yields 99.01 where
  Maestro yields 100; both are above any allowed ``upper`` threshold, so signals agree.
* Bollinger: ``BollingerBands`` uses the population deviation (ddof=0), computed as
  ``sqrt(E[x^2] - E[x]^2)``; Maestro uses vectorbt's rolling std. They differ by float
  rounding (~1e-11 relative), which could flip a crossing only on an exact tie.
* Stochastic: Backtrader's slow ``Stochastic`` (SMA-smoothed %K and %D) = ``stochastic``.
* SuperTrend has no Backtrader indicator; it is written here with the same recursion.
* Crossings are tested as ``a[0] > b[0] and a[-1] <= b[-1]``, not with ``bt.ind.CrossOver``,
  which remembers the last non-zero difference and so differs on exact ties.

Remaining differences, measured on the samples: equity curves agree to ~1e-11 relative.
That gap is ``event_driven.CASH_SAFETY``: an all-in buy keeps a trillionth of the cash,
because Backtrader rejects an order whose cost exceeds the cash by a rounding error, where
vectorbt sizes the order from the cash itself. The per-bar equity is ``broker.getvalue()`` at
each close, Maestro's is vectorbt's value at the close. The reference covers long-only
trading, the seed engine's mode; Maestro's short side reuses the same simulator with
mirrored signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import backtrader as bt
import numpy as np
import polars as pl

from maestro_pipeline.engine.backtest import BacktestSettings
from maestro_pipeline.engine.backtest.event_driven import SignalTrader, run_events
from maestro_pipeline.engine.strategy import OHLCV


def _cross_above(a, b) -> bool:
    return a[0] > b[0] and a[-1] <= b[-1]


def _cross_below(a, b) -> bool:
    return a[0] < b[0] and a[-1] >= b[-1]


class _Level:
    """A constant line usable with ``_cross_above`` (``level[0]``, ``level[-1]``)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __getitem__(self, _: int) -> float:
        return self.value


class SignalStrategy(SignalTrader):
    """A rule decided from Backtrader's indicators, traded by the runtime engine (long only)."""

    params: ClassVar[tuple] = (("rule", None),)

    def long_entry(self) -> bool:
        raise NotImplementedError

    def long_exit(self) -> bool:
        raise NotImplementedError

    def signals(self) -> tuple[bool, bool, bool, bool]:
        return self.long_entry(), self.long_exit(), False, False


class EmaCross(SignalStrategy):
    def setup(self) -> None:
        self.fast = bt.ind.EMA(self.data.close, period=self.p.rule["fast"])
        self.slow = bt.ind.EMA(self.data.close, period=self.p.rule["slow"])

    def long_entry(self) -> bool:
        return _cross_above(self.fast, self.slow)

    def long_exit(self) -> bool:
        return _cross_below(self.fast, self.slow)


class Rsi(SignalStrategy):
    def setup(self) -> None:
        self.rsi = bt.ind.RSI(self.data.close, period=self.p.rule["window"], safediv=True)
        self.lower = _Level(self.p.rule["lower"])

    def long_entry(self) -> bool:
        return _cross_above(self.rsi, self.lower)

    def long_exit(self) -> bool:
        return self.rsi[0] > self.p.rule["upper"]


class Macd(SignalStrategy):
    def setup(self) -> None:
        rule = self.p.rule
        self.macd = bt.ind.MACD(
            self.data.close,
            period_me1=rule["fast"],
            period_me2=rule["slow"],
            period_signal=rule["signal"],
        )

    def long_entry(self) -> bool:
        return _cross_above(self.macd.macd, self.macd.signal)

    def long_exit(self) -> bool:
        return _cross_below(self.macd.macd, self.macd.signal)


class Bollinger(SignalStrategy):
    def setup(self) -> None:
        self.bands = bt.ind.BollingerBands(
            self.data.close, period=self.p.rule["window"], devfactor=self.p.rule["n_std"]
        )

    def long_entry(self) -> bool:
        return _cross_below(self.data.close, self.bands.bot)

    def long_exit(self) -> bool:
        return self.data.close[0] > self.bands.mid[0]


class ChannelBreakout(SignalStrategy):
    def setup(self) -> None:
        self.highest = bt.ind.Highest(self.data.high, period=self.p.rule["window"])
        self.lowest = bt.ind.Lowest(self.data.low, period=self.p.rule["window"])

    def long_entry(self) -> bool:
        # The channel of the bars before this one.
        return len(self.highest) > 1 and self.data.close[0] > self.highest[-1]

    def long_exit(self) -> bool:
        return len(self.lowest) > 1 and self.data.close[0] < self.lowest[-1]


class AtrTrend(SignalStrategy):
    def setup(self) -> None:
        rule = self.p.rule
        self.trend = bt.ind.EMA(self.data.close, period=rule["window"])
        self.atr = bt.ind.ATR(self.data, period=rule["atr_window"])
        self.highest = bt.ind.Highest(self.data.high, period=rule["window"])
        self.upper = self.trend + self.atr * rule["multiplier"]

    def long_entry(self) -> bool:
        return _cross_above(self.data.close, self.upper)

    def long_exit(self) -> bool:
        stop = self.highest[0] - self.p.rule["stop_multiplier"] * self.atr[0]
        return self.data.close[0] < stop


class SuperTrendIndicator(bt.Indicator):
    """SuperTrend direction with the final-band recursion (no Backtrader built-in exists)."""

    lines = ("direction",)
    params: ClassVar[tuple] = (("period", 10), ("multiplier", 3.0))

    def __init__(self) -> None:
        self.atr = bt.ind.ATR(self.data, period=self.p.period)
        self.upper = math.nan
        self.lower = math.nan

    def next(self) -> None:
        average_range = self.atr[0]
        if math.isnan(average_range):
            self.lines.direction[0] = 0.0
            return
        high, low, close = self.data.high[0], self.data.low[0], self.data.close[0]
        mid = (high + low) / 2.0
        basic_upper = mid + self.p.multiplier * average_range
        basic_lower = mid - self.p.multiplier * average_range
        if math.isnan(self.upper):
            self.upper, self.lower = basic_upper, basic_lower
            self.lines.direction[0] = 1.0 if close > mid else -1.0
            return
        previous_close = self.data.close[-1]
        if basic_upper < self.upper or previous_close > self.upper:
            self.upper = basic_upper
        if basic_lower > self.lower or previous_close < self.lower:
            self.lower = basic_lower
        previous = self.lines.direction[-1]
        if previous < 0 and close > self.upper:
            self.lines.direction[0] = 1.0
        elif previous > 0 and close < self.lower:
            self.lines.direction[0] = -1.0
        else:
            self.lines.direction[0] = previous


class SuperTrend(SignalStrategy):
    def setup(self) -> None:
        self.trend = SuperTrendIndicator(
            self.data, period=self.p.rule["atr_window"], multiplier=self.p.rule["multiplier"]
        )

    def long_entry(self) -> bool:
        return self.trend.direction[0] > 0 and self.trend.direction[-1] < 0

    def long_exit(self) -> bool:
        return self.trend.direction[0] < 0


class Stochastic(SignalStrategy):
    def setup(self) -> None:
        rule = self.p.rule
        self.stoch = bt.ind.Stochastic(
            self.data,
            period=rule["window"],
            period_dfast=rule["k_smooth"],
            period_dslow=rule["d_smooth"],
            safediv=True,
        )

    def long_entry(self) -> bool:
        k, d = self.stoch.percK, self.stoch.percD
        return _cross_above(k, d) and d[0] < self.p.rule["lower"]

    def long_exit(self) -> bool:
        k, d = self.stoch.percK, self.stoch.percD
        return _cross_below(k, d) and d[0] > self.p.rule["upper"]


REFERENCE_STRATEGIES: dict[str, type[SignalStrategy]] = {
    "ema_cross": EmaCross,
    "rsi": Rsi,
    "macd": Macd,
    "bollinger": Bollinger,
    "channel_breakout": ChannelBreakout,
    "atr_trend": AtrTrend,
    "supertrend": SuperTrend,
    "stochastic": Stochastic,
}


@dataclass(frozen=True)
class ReferenceResult:
    values: np.ndarray
    trade_count: int


def run_reference(
    bars: pl.DataFrame,
    name: str,
    params: dict[str, Any],
    fees: float,
    slippage: float,
    init_cash: float,
) -> ReferenceResult:
    """Backtest one rule on Backtrader, long only, all-in, next-open fills."""
    ohlcv = OHLCV.from_bars(bars)
    settings = BacktestSettings(fees=fees, slippage=slippage, init_cash=init_cash)
    values, positions, trader = run_events(
        ohlcv, settings, 0, len(ohlcv), trader=REFERENCE_STRATEGIES[name], rule=params
    )
    if trader.rejected:
        raise RuntimeError(f"Backtrader rejected {trader.rejected} order(s) for {name}")
    return ReferenceResult(values, len(positions))
