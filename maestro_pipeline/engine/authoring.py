"""How a strategy is declared: its name, rule, parameters (each declared once), constraints,
warm-up and signal function.

This module imports nothing heavy (no numpy): the catalog of strategies (names, rules,
parameters) loads in milliseconds, and the arrays are only touched when signals are computed
(``engine.strategy.strategy_signals``). Users import these names from the public module
``maestro_pipeline.strategy``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ParameterError(ValueError):
    """A strategy parameter is unknown, of the wrong type, outside its space or inconsistent."""

    def __init__(self, strategy: str, parameter: str, message: str) -> None:
        self.strategy = strategy
        self.parameter = parameter
        self.detail = message
        super().__init__(f"{strategy}: parameter '{parameter}' {message}")


class StrategyDefinitionError(ValueError):
    """A strategy declaration that cannot work (bad name, a default outside its bounds...)."""


def _is_int(value: Any) -> bool:
    # numbers.Integral covers Python and numpy integers without importing numpy.
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class IntParam:
    """An integer parameter in ``[low, high]``, on a grid of ``step`` or log-uniform.

    ``IntParam(5, 200, default=20)``; ``IntParam(10, 500, step=10, default=50)``;
    ``IntParam(2, 1000, log=True, default=20)`` (log scale: the search samples small values
    as often as large ones).
    """

    low: int
    high: int
    step: int = 1
    log: bool = False
    default: int = field(kw_only=True)

    kind: ClassVar[str] = "int"

    def validate(self, strategy: str, name: str, value: Any) -> int:
        if _is_int(value) or (_is_real(value) and float(value).is_integer()):
            value = int(value)
        else:
            raise ParameterError(strategy, name, f"must be an integer, got {value!r}")
        if not self.low <= value <= self.high:
            raise ParameterError(
                strategy, name, f"must be within [{self.low}, {self.high}], got {value}"
            )
        if not self.log and (value - self.low) % self.step:
            raise ParameterError(
                strategy, name, f"must be {self.low} plus a multiple of {self.step}, got {value}"
            )
        return value

    def declaration_problem(self) -> str | None:
        """What makes this declaration unusable, or None."""
        if not (_is_int(self.low) and _is_int(self.high) and _is_int(self.step)):
            return "low, high and step must be integers"
        if self.low >= self.high:
            return f"low ({self.low}) must be below high ({self.high})"
        if self.step < 1:
            return f"step must be at least 1, got {self.step}"
        if self.log and (self.low < 1 or self.step != 1):
            return "a log scale needs low >= 1 and step 1"
        return None

    def describe(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "step": self.step,
                "log": self.log}  # fmt: skip


@dataclass(frozen=True)
class FloatParam:
    """A real parameter in ``[low, high]``: continuous, on a grid of ``step``, or log-uniform.

    ``FloatParam(0.5, 4.0, step=0.25, default=2.0)``;
    ``FloatParam(0.001, 0.1, log=True, default=0.01)``.
    """

    low: float
    high: float
    step: float | None = None
    log: bool = False
    default: float = field(kw_only=True)

    kind: ClassVar[str] = "float"

    def validate(self, strategy: str, name: str, value: Any) -> float:
        if not _is_real(value):
            raise ParameterError(strategy, name, f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ParameterError(
                strategy, name, f"must be within [{self.low}, {self.high}], got {value}"
            )
        return value

    def declaration_problem(self) -> str | None:
        if not (_is_real(self.low) and _is_real(self.high)):
            return "low and high must be numbers"
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            return f"low ({self.low}) must be below high ({self.high}), both finite"
        if self.step is not None and (not _is_real(self.step) or not self.step > 0):
            return f"step must be a positive number, got {self.step!r}"
        if self.log and (self.low <= 0 or self.step is not None):
            return "a log scale needs low > 0 and no step"
        return None

    def describe(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "step": self.step,
                "log": self.log}  # fmt: skip


@dataclass(frozen=True)
class CategoricalParam:
    """A parameter taking one of a fixed set of values (strings, numbers or booleans).

    ``CategoricalParam(("ema", "sma"), default="ema")``.
    """

    choices: tuple[Any, ...]
    default: Any = field(kw_only=True)

    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if isinstance(self.choices, list):  # a list reads naturally; keep it hashable
            object.__setattr__(self, "choices", tuple(self.choices))

    def validate(self, strategy: str, name: str, value: Any) -> Any:
        if value not in self.choices:
            raise ParameterError(
                strategy, name, f"must be one of {list(self.choices)}, got {value!r}"
            )
        return value

    def declaration_problem(self) -> str | None:
        if not isinstance(self.choices, tuple) or not self.choices:
            return "choices must be a non-empty tuple"
        if len(set(self.choices)) != len(self.choices):
            return f"choices repeat a value: {list(self.choices)}"
        if not all(isinstance(c, str | int | float | bool) for c in self.choices):
            return "choices must be strings, numbers or booleans (what Optuna can store)"
        return None

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

    def __str__(self) -> str:
        return f"{self.smaller} < {self.larger}"


@dataclass(frozen=True)
class SignalSet:
    """One parameter set's signals: four arrays with one value per bar.

    Booleans (or 0/1 numbers): ``long_entries[t]`` means "go long at bar ``t + 1``'s open,
    decided on bar ``t``'s close", and so on. ``None`` short sides mean the rule has no shorts.
    """

    long_entries: np.ndarray
    long_exits: np.ndarray
    short_entries: np.ndarray | None = None
    short_exits: np.ndarray | None = None


# f(bars, params): ``bars`` is an ``engine.strategy.IndicatorCache`` (arrays and a memo).
SignalFunction = Callable[[Any, Mapping[str, Any]], SignalSet]
Warmup = int | Callable[[Mapping[str, Any]], int]


@dataclass(frozen=True)
class Strategy:
    """A named trading rule: its parameters, constraints and vectorized signal function.

    Args:
        name: lower-case letters, digits and underscores (``sma_cross``); unique in the catalog.
        description: the rule, stated precisely enough to reimplement it (shown in every UI).
        parameters: each parameter once: its kind, bounds, grid and default
            (``{"fast": IntParam(2, 50, default=10)}``).
        signal_function: ``f(bars, params) -> SignalSet``. ``bars`` has numpy arrays
            ``timestamp`` (epoch ms, UTC), ``open``, ``high``, ``low``, ``close``, ``volume``,
            and ``bars.get(indicator, *args)``, which computes ``indicator(bars, *args)`` once
            per batch of parameter sets. Signals on bar ``t`` may use bars ``0..t`` only.
        constraints: orderings between parameters (``LessThan("fast", "slow")``).
        warmup: bars after which the signals no longer depend on where the history starts,
            as a number or a function of the parameters; ``maestro check`` verifies it (or
            measures it when not stated).
        code_version: a fingerprint of the strategy's source, set by the catalog when it loads
            the strategy (part of every study's identity); leave it unset.

    Raises:
        StrategyDefinitionError: the declaration cannot work, naming what is wrong.
    """

    name: str
    description: str
    parameters: Mapping[str, ParamSpec]
    signal_function: SignalFunction
    constraints: Sequence[LessThan] = ()
    warmup: Warmup | None = None
    code_version: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", dict(self.parameters))
        object.__setattr__(self, "constraints", tuple(self.constraints))
        problem = self._declaration_problem()
        if problem:
            label = self.name if isinstance(self.name, str) else repr(self.name)
            raise StrategyDefinitionError(f"strategy '{label}': {problem}")

    def _declaration_problem(self) -> str | None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            return (
                f"name {self.name!r} must be lower-case letters, digits and underscores, "
                "starting with a letter"
            )
        if not isinstance(self.description, str) or not self.description.strip():
            return "the description must state the rule"
        if not callable(self.signal_function):
            return "signal_function must be a function f(bars, params) -> SignalSet"
        for name, spec in self.parameters.items():
            if not isinstance(spec, IntParam | FloatParam | CategoricalParam):
                return f"parameter '{name}' must be an IntParam, FloatParam or CategoricalParam"
            if not isinstance(name, str) or not name.isidentifier():
                return f"parameter name {name!r} must be an identifier"
            problem = spec.declaration_problem()
            if problem:
                return f"parameter '{name}': {problem}"
            try:
                spec.validate(self.name, name, spec.default)
            except ParameterError as exc:
                return f"parameter '{name}': the default {exc.detail}"
        for constraint in self.constraints:
            if not isinstance(constraint, LessThan):
                return f"constraint {constraint!r} must be a LessThan"
            for name in (constraint.smaller, constraint.larger):
                if name not in self.parameters:
                    return f"constraint {constraint} names '{name}', which is not a parameter"
            try:
                constraint.check(self.name, self.defaults)
            except ParameterError as exc:
                return f"the defaults break the constraint {constraint}: {exc}"
        if self.warmup is not None:
            try:
                self.warmup_bars(self.defaults)
            except Exception as exc:
                return f"warmup must be a number of bars or a function of the parameters: {exc}"
        return None

    @property
    def defaults(self) -> dict[str, Any]:
        """Every parameter's default value."""
        return {name: spec.default for name, spec in self.parameters.items()}

    @property
    def space(self) -> Mapping[str, ParamSpec]:
        """The parameters' search space (the same declarations as ``parameters``)."""
        return self.parameters

    def warmup_bars(self, params: Mapping[str, Any]) -> int | None:
        """The stated warm-up for ``params`` (None when the strategy states none)."""
        if self.warmup is None:
            return None
        bars = self.warmup(params) if callable(self.warmup) else self.warmup
        if not _is_int(bars) or bars < 0:
            raise ValueError(f"a warm-up is a non-negative number of bars, got {bars!r}")
        return int(bars)

    def validate(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``params``, checked against the space and constraints.

        Raises ``ParameterError`` naming the offending parameter.
        """
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise ParameterError(self.name, unknown[0], f"is not a parameter (known: {known})")
        merged = {**self.defaults, **params}
        checked = {name: spec.validate(self.name, name, merged[name])
                   for name, spec in self.parameters.items()}  # fmt: skip
        for constraint in self.constraints:
            constraint.check(self.name, checked)
        return checked

    def describe(self) -> dict[str, Any]:
        """JSON-friendly catalog entry."""
        return {
            "name": self.name,
            "description": self.description,
            "defaults": self.defaults,
            "space": {name: spec.describe() for name, spec in self.parameters.items()},
            "constraints": [str(c) for c in self.constraints],
            "warmup": None if self.warmup is None else self.warmup_bars(self.defaults),
            "version": self.code_version,
        }
