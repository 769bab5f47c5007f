"""The strategy contract: parameters, their search space, validation and signals.

A strategy is a named, documented rule that turns OHLCV bars into four boolean arrays: long
entries, long exits, short entries and short exits. Every signal on bar ``t`` may only use
bars ``0..t`` (the bar's close included); the backtest fills it at bar ``t + 1``'s open.

Signal functions work on one parameter set at a time and receive an ``IndicatorCache``, so a
batch of many parameter sets computes each distinct indicator (say, an EMA of length 20) once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl


class ParameterError(ValueError):
    """A strategy parameter is unknown, of the wrong type, outside its space or inconsistent."""

    def __init__(self, strategy: str, parameter: str, message: str) -> None:
        self.strategy = strategy
        self.parameter = parameter
        super().__init__(f"{strategy}: parameter '{parameter}' {message}")


@dataclass(frozen=True)
class IntParam:
    """An integer parameter in ``[low, high]`` on a grid of ``step`` (or log-uniform)."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    kind = "int"

    def validate(self, strategy: str, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer | float):
            raise ParameterError(strategy, name, f"must be an integer, got {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ParameterError(strategy, name, f"must be an integer, got {value!r}")
            value = int(value)
        value = int(value)
        if not self.low <= value <= self.high:
            raise ParameterError(
                strategy, name, f"must be within [{self.low}, {self.high}], got {value}"
            )
        if not self.log and (value - self.low) % self.step:
            raise ParameterError(
                strategy, name, f"must be {self.low} plus a multiple of {self.step}, got {value}"
            )
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "step": self.step,
                "log": self.log}  # fmt: skip


@dataclass(frozen=True)
class FloatParam:
    """A real parameter in ``[low, high]``, continuous or on a grid of ``step``."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    kind = "float"

    def validate(self, strategy: str, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ParameterError(strategy, name, f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ParameterError(
                strategy, name, f"must be within [{self.low}, {self.high}], got {value}"
            )
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "step": self.step,
                "log": self.log}  # fmt: skip


@dataclass(frozen=True)
class CategoricalParam:
    """A parameter taking one of a fixed set of values."""

    choices: tuple[Any, ...]

    kind = "categorical"

    def validate(self, strategy: str, name: str, value: Any) -> Any:
        if value not in self.choices:
            raise ParameterError(
                strategy, name, f"must be one of {list(self.choices)}, got {value!r}"
            )
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


ParamSpec = IntParam | FloatParam | CategoricalParam


@dataclass(frozen=True)
class LessThan:
    """Cross-parameter constraint ``smaller < larger`` (e.g. a fast window below a slow one)."""

    smaller: str
    larger: str

    def check(self, strategy: str, params: Mapping[str, Any]) -> None:
        if not params[self.smaller] < params[self.larger]:
            raise ParameterError(
                strategy,
                self.smaller,
                f"must be less than '{self.larger}' ({params[self.smaller]} >= "
                f"{params[self.larger]})",
            )


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
    """Memoizes indicator arrays by (function, arguments) within one batch of parameter sets."""

    def __init__(self, bars: OHLCV) -> None:
        self.bars = bars
        self._store: dict[tuple[Any, ...], Any] = {}

    def get(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(bars, *args)``, computed once per distinct ``args``."""
        key = (function, *args)
        if key not in self._store:
            self._store[key] = function(self.bars, *args)
        return self._store[key]


@dataclass(frozen=True)
class SignalSet:
    """One parameter set's signals; ``None`` short sides mean 'mirror not defined'."""

    long_entries: np.ndarray
    long_exits: np.ndarray
    short_entries: np.ndarray
    short_exits: np.ndarray


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


SignalFunction = Callable[[IndicatorCache, Mapping[str, Any]], SignalSet]


@dataclass(frozen=True)
class Strategy:
    """A named trading rule with its parameter space and vectorized signal function."""

    name: str
    description: str
    defaults: Mapping[str, Any]
    space: Mapping[str, ParamSpec]
    signal_function: SignalFunction
    constraints: Sequence[LessThan] = field(default_factory=tuple)

    def validate(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``params``, checked against the space and constraints.

        Raises ``ParameterError`` naming the offending parameter.
        """
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.space))
        if unknown:
            raise ParameterError(
                self.name, unknown[0], f"is not a parameter (known: {', '.join(self.space)})"
            )
        merged = {**self.defaults, **params}
        checked = {name: spec.validate(self.name, name, merged[name])
                   for name, spec in self.space.items()}  # fmt: skip
        for constraint in self.constraints:
            constraint.check(self.name, checked)
        return checked

    def describe(self) -> dict[str, Any]:
        """JSON-friendly catalog entry."""
        return {
            "name": self.name,
            "description": self.description,
            "defaults": dict(self.defaults),
            "space": {name: spec.describe() for name, spec in self.space.items()},
            "constraints": [f"{c.smaller} < {c.larger}" for c in self.constraints],
        }


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
        result = strategy.signal_function(cache, params)
        le, lx, se, sx = (
            np.asarray(result.long_entries, dtype=np.bool_),
            np.asarray(result.long_exits, dtype=np.bool_),
            np.asarray(result.short_entries, dtype=np.bool_),
            np.asarray(result.short_exits, dtype=np.bool_),
        )
        out[0][:, j] = le
        out[1][:, j] = lx & ~le
        out[2][:, j] = se
        out[3][:, j] = sx & ~se
    return Signals(*out, params=checked)
