"""Computing a strategy's signals: bars as arrays, the indicator cache, batches of parameters.

A strategy (declared with ``engine.authoring``, whose names this module re-exports) is a
named, documented rule that turns OHLCV bars into four boolean arrays: long entries, long
exits, short entries and short exits. Every signal on bar ``t`` may only use bars ``0..t``
(the bar's close included); the backtest fills it at bar ``t + 1``'s open.

Signal functions work on one parameter set at a time and receive an ``IndicatorCache``, so a
batch of many parameter sets computes each distinct indicator (say, an EMA of length 20) once.
Whatever a signal function does wrong (raises, returns arrays of the wrong length or type,
NaN) stops with a ``StrategyError`` naming the strategy, the file and the line.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from maestro_pipeline.engine.authoring import (
    CategoricalParam,
    FloatParam,
    IntParam,
    LessThan,
    ParameterError,
    ParamSpec,
    SignalFunction,
    SignalSet,
    Strategy,
    StrategyDefinitionError,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "OHLCV",
    "SIGNAL_NAMES",
    "CategoricalParam",
    "FloatParam",
    "IndicatorCache",
    "IntParam",
    "LessThan",
    "ParamSpec",
    "ParameterError",
    "SignalFunction",
    "SignalSet",
    "Signals",
    "Strategy",
    "StrategyDefinitionError",
    "StrategyError",
    "signal_arrays",
    "strategy_signals",
]

SIGNAL_NAMES = ("long_entries", "long_exits", "short_entries", "short_exits")


class StrategyError(ValueError):
    """A strategy's code failed or returned unusable signals; names the strategy and its line."""

    def __init__(self, strategy: Strategy, message: str, line: tuple[str, int] | None = None):
        where = line or code_location(strategy.signal_function)
        self.strategy = strategy.name
        self.location = where
        located = f" ({where[0]}, line {where[1]})" if where else ""
        super().__init__(f"strategy '{strategy.name}'{located}: {message}")


def code_location(function: Callable[..., Any]) -> tuple[str, int] | None:
    """(file, line) where ``function`` is defined, when Python knows it."""
    code = getattr(function, "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else None


def _raising_line(exc: BaseException, function: Callable[..., Any]) -> tuple[str, int] | None:
    """The deepest line of ``function``'s file in the traceback (where the user's code failed)."""
    home = code_location(function)
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if home is not None and f.filename == home[0]]
    chosen = own[-1] if own else (frames[-1] if frames else None)
    return (chosen.filename, chosen.lineno or 0) if chosen is not None else home


@dataclass(frozen=True)
class OHLCV:
    """Bars as contiguous float64 numpy arrays (what indicators and vectorbt consume).

    ``timestamp`` holds the bar open times as int64 milliseconds since the epoch, UTC.
    """

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)

    def slice(self, stop: int) -> OHLCV:
        """The first ``stop`` bars (used to prove signals never look ahead)."""
        return OHLCV(*(np.ascontiguousarray(a[:stop]) for a in self._arrays()))

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.timestamp, self.open, self.high, self.low, self.close, self.volume)

    @classmethod
    def from_bars(cls, bars: pl.DataFrame | OHLCV) -> OHLCV:
        """Convert canonical polars bars (``BAR_SCHEMA``) to arrays; pass ``OHLCV`` through."""
        if isinstance(bars, OHLCV):
            return bars
        stamps = bars.get_column("timestamp").dt.epoch("ms").to_numpy().astype(np.int64)
        prices = [
            np.ascontiguousarray(bars.get_column(c).to_numpy(), dtype=np.float64)
            for c in ("open", "high", "low", "close", "volume")
        ]
        return cls(np.ascontiguousarray(stamps), *prices)


class IndicatorCache:
    """The bars a signal function reads, and a memo of indicators within one batch.

    ``bars.close`` (and ``timestamp``, ``open``, ``high``, ``low``, ``volume``) are the bars'
    arrays; ``bars.get(indicator, *args)`` returns ``indicator(ohlcv, *args)``, computed once
    per distinct ``args`` for all the parameter sets of a batch.
    """

    def __init__(self, bars: OHLCV) -> None:
        self.bars = bars
        self._store: dict[tuple[Any, ...], Any] = {}

    def get(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(bars, *args)``, computed once per distinct ``args``."""
        key = (function, *args)
        if key not in self._store:
            self._store[key] = function(self.bars, *args)
        return self._store[key]

    def __len__(self) -> int:
        return len(self.bars)

    @property
    def timestamp(self) -> np.ndarray:
        return self.bars.timestamp

    @property
    def open(self) -> np.ndarray:
        return self.bars.open

    @property
    def high(self) -> np.ndarray:
        return self.bars.high

    @property
    def low(self) -> np.ndarray:
        return self.bars.low

    @property
    def close(self) -> np.ndarray:
        return self.bars.close

    @property
    def volume(self) -> np.ndarray:
        return self.bars.volume


@dataclass(frozen=True)
class Signals:
    """Signals of many parameter sets: boolean arrays of shape (n_bars, n_params)."""

    long_entries: np.ndarray
    long_exits: np.ndarray
    short_entries: np.ndarray
    short_exits: np.ndarray
    params: list[dict[str, Any]]

    @property
    def n_params(self) -> int:
        return self.long_entries.shape[1]

    def column(self, i: int) -> SignalSet:
        return SignalSet(
            self.long_entries[:, i],
            self.long_exits[:, i],
            self.short_entries[:, i],
            self.short_exits[:, i],
        )


def signal_arrays(
    strategy: Strategy, cache: IndicatorCache, params: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One validated parameter set's four signals as boolean arrays of the bars' length.

    Raises:
        StrategyError: the signal function raised, or returned something other than a
            ``SignalSet`` of one boolean (or 0/1) value per bar, or NaN.
    """
    try:
        result = strategy.signal_function(cache, params)
    except Exception as exc:
        raise StrategyError(
            strategy,
            f"the signal function raised {type(exc).__name__}: {exc}",
            _raising_line(exc, strategy.signal_function),
        ) from exc
    if not isinstance(result, SignalSet):
        raise StrategyError(
            strategy,
            f"the signal function must return a SignalSet, got {type(result).__name__}",
        )
    n = len(cache.bars)
    return tuple(  # type: ignore[return-value]
        _signal_array(strategy, name, getattr(result, name), n) for name in SIGNAL_NAMES
    )


def _signal_array(strategy: Strategy, name: str, value: Any, n: int) -> np.ndarray:
    if value is None:
        return np.zeros(n, dtype=np.bool_)
    array = np.asarray(value)
    if array.shape != (n,):
        raise StrategyError(
            strategy, f"{name} has shape {array.shape}, expected ({n},): one value per bar"
        )
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "iuf":
        raise StrategyError(strategy, f"{name} holds {array.dtype} values, expected booleans")
    if array.dtype.kind == "f" and np.isnan(array).any():
        first = int(np.flatnonzero(np.isnan(array))[0])
        raise StrategyError(
            strategy, f"{name} is NaN at bar {first}: signals must be true or false"
        )
    if not np.isin(array, (0, 1)).all():
        first = int(np.flatnonzero(~np.isin(array, (0, 1)))[0])
        raise StrategyError(
            strategy, f"{name} holds {array[first]!r} at bar {first}, expected booleans (or 0/1)"
        )
    return array != 0


def strategy_signals(
    bars: pl.DataFrame | OHLCV,
    strategy: Strategy,
    params_list: Iterable[Mapping[str, Any]],
    cache: IndicatorCache | None = None,
) -> Signals:
    """Signals of many parameter sets over the full history, one column per set.

    Indicators only look back, so the signals of any window ``[start, stop)`` equal these
    columns sliced to that window, warm-up included: compute once, simulate many windows.
    Each parameter set is validated first. On a bar where an entry and an exit of the same
    side coincide, the exit is dropped so the two never conflict.

    Pass the same ``cache`` (``IndicatorCache(OHLCV.from_bars(bars))``) to successive calls
    on the same bars, e.g. successive trial batches of one study, to reuse indicators.

    Raises:
        ParameterError: a parameter set is invalid (naming the parameter).
        StrategyError: the strategy's code failed (naming the strategy, file and line).
    """
    ohlcv = OHLCV.from_bars(bars)
    if cache is not None and cache.bars is not ohlcv:
        raise ValueError("the indicator cache belongs to other bars: pass the same OHLCV")
    checked = [strategy.validate(p) for p in params_list]
    if not checked:
        raise ValueError("params_list is empty: give at least one parameter set")
    n = len(ohlcv)
    shape = (n, len(checked))
    out = [np.zeros(shape, dtype=np.bool_) for _ in range(4)]
    cache = cache or IndicatorCache(ohlcv)
    for j, params in enumerate(checked):
        le, lx, se, sx = signal_arrays(strategy, cache, params)
        out[0][:, j] = le
        out[1][:, j] = lx & ~le
        out[2][:, j] = se
        out[3][:, j] = sx & ~se
    return Signals(*out, params=checked)
