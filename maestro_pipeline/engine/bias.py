"""Bias checks of a strategy on real bars: lookahead, warm-up stability and hygiene.

* **lookahead** — signals computed on the history cut at many bars ``t`` must equal the
  full-history signals up to ``t``: a rule that reads a later bar (the next close, a centered
  window, a maximum over the whole series) changes its past signals when the future is cut.
* **warm-up** — signals computed on a history that starts later must agree with the
  full-history signals once past the warm-up (freqtrade's recursive analysis): a rule whose
  signals depend on where the data happens to start (an expanding mean, "above the first
  close") is not reproducible. The strategy states its warm-up, or the check measures it.
* **hygiene** — one boolean per bar for each signal, no NaN, the same signals twice, every
  parameter read and able to change a signal, defaults inside their bounds and constraints.

Each check runs on the defaults and on a few random parameter sets of the space (seeded by
the strategy's name, so a report is reproducible) and names the first offending bar.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from maestro_pipeline.engine.strategy import (
    OHLCV,
    SIGNAL_NAMES,
    CategoricalParam,
    FloatParam,
    IndicatorCache,
    IntParam,
    ParameterError,
    Strategy,
    StrategyError,
    signal_arrays,
)

MIN_BARS = 100


@dataclass(frozen=True)
class BiasCheckSettings:
    """How hard the checks look."""

    cuts: int = 30  # truncation points of the lookahead check
    starts: tuple[float, ...] = (0.1, 0.25, 0.4, 0.55)  # later starts, as fractions of the bars
    random_param_sets: int = 2  # besides the defaults
    # With no stated warm-up, signals must agree on the last three quarters of each later-start
    # history: a rule still disagreeing after a quarter of it depends on where data starts.
    unstated_warmup_fraction: float = 0.25


@dataclass(frozen=True)
class Finding:
    """The first bar where a check failed."""

    bar: int
    time: str
    signal: str
    full_history: bool
    other: bool
    params: dict[str, Any]
    context: str


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    summary: str
    finding: Finding | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BiasReport:
    strategy: str
    version: str | None
    n_bars: int
    first_bar: str
    last_bar: str
    param_sets: list[dict[str, Any]]
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _time(bars: OHLCV, bar: int) -> str:
    stamp = datetime.fromtimestamp(int(bars.timestamp[bar]) / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


class _ReadTracker(Mapping[str, Any]):
    """Parameters that remember which of them the signal function read."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._params = dict(params)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        value = self._params[key]
        self.read.add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)


def _signals(strategy: Strategy, bars: OHLCV, params: Mapping[str, Any]) -> np.ndarray:
    """The four raw signals of one parameter set as a (4, n_bars) boolean array."""
    return np.stack(signal_arrays(strategy, IndicatorCache(bars), params))


def random_params(strategy: Strategy, rng: np.random.Generator) -> dict[str, Any] | None:
    """A random valid parameter set of the space (None if 200 draws break the constraints)."""
    for _ in range(200):
        drawn: dict[str, Any] = {}
        for name, spec in strategy.parameters.items():
            if isinstance(spec, IntParam):
                if spec.log:
                    value = np.exp(rng.uniform(np.log(spec.low), np.log(spec.high)))
                    drawn[name] = int(min(spec.high, max(spec.low, round(value))))
                else:
                    steps = (spec.high - spec.low) // spec.step
                    drawn[name] = spec.low + spec.step * int(rng.integers(0, steps + 1))
            elif isinstance(spec, FloatParam):
                if spec.log:
                    value = float(np.exp(rng.uniform(np.log(spec.low), np.log(spec.high))))
                elif spec.step:
                    steps = int((spec.high - spec.low) // spec.step)
                    value = spec.low + spec.step * int(rng.integers(0, steps + 1))
                else:
                    value = float(rng.uniform(spec.low, spec.high))
                drawn[name] = min(spec.high, max(spec.low, value))
            else:
                assert isinstance(spec, CategoricalParam)
                drawn[name] = spec.choices[int(rng.integers(len(spec.choices)))]
        try:
            return strategy.validate(drawn)
        except ParameterError:
            continue
    return None


def _alternatives(spec: Any, default: Any) -> list[Any]:
    """Other values of one parameter worth trying: the bounds, the middle, the next step."""
    if isinstance(spec, CategoricalParam):
        return [c for c in spec.choices if c != default]
    if isinstance(spec, IntParam):
        middle = spec.low + spec.step * ((spec.high - spec.low) // spec.step // 2)
        values = [default + spec.step, default - spec.step, spec.low, spec.high, middle]
    else:
        values = [spec.low, spec.high, (spec.low + spec.high) / 2, default * 1.1, default * 0.9]
    return [v for v in dict.fromkeys(values) if v != default and spec.low <= v <= spec.high]


def _first_difference(
    expected: np.ndarray, found: np.ndarray, offset: int = 0, from_bar: int = 0
) -> tuple[int, int] | None:
    """(bar, signal index) of the earliest disagreement at or after ``from_bar`` (relative)."""
    differs = expected[:, from_bar:] != found[:, from_bar:]
    if not differs.any():
        return None
    columns = np.flatnonzero(differs.any(axis=0))
    bar = int(columns[0]) + from_bar
    signal = int(np.flatnonzero(differs[:, bar - from_bar])[0])
    return bar + offset, signal


def _finding(
    bars: OHLCV, full: np.ndarray, other: np.ndarray, bar: int, signal: int, offset: int,
    params: Mapping[str, Any], context: str,
) -> Finding:  # fmt: skip
    return Finding(
        bar=bar,
        time=_time(bars, bar),
        signal=SIGNAL_NAMES[signal],
        full_history=bool(full[signal, bar]),
        other=bool(other[signal, bar - offset]),
        params=dict(params),
        context=context,
    )


def _hygiene(
    strategy: Strategy, bars: OHLCV, param_sets: list[dict[str, Any]]
) -> tuple[CheckResult, list[np.ndarray]]:
    signals = []
    for params in param_sets:
        try:
            signals.append(_signals(strategy, bars, params))
        except StrategyError as exc:
            return CheckResult("hygiene", False, str(exc), details={"params": params}), []
    defaults = param_sets[0]
    again = _signals(strategy, bars, defaults)
    if not np.array_equal(again, signals[0]):
        bar, signal = _first_difference(signals[0], again)  # type: ignore[misc]
        finding = _finding(bars, signals[0], again, bar, signal, 0, defaults, "computed twice")
        summary = (
            f"not deterministic: {finding.signal} at bar {bar} ({finding.time}) differs between "
            "two computations on the same bars"
        )
        return CheckResult("hygiene", False, summary, finding), signals
    tracker = _ReadTracker(defaults)
    signal_arrays(strategy, IndicatorCache(bars), tracker)
    unused: list[str] = []
    inert: list[str] = []
    for name, spec in strategy.parameters.items():
        if name not in tracker.read:
            unused.append(name)
            continue
        tried = 0
        for value in _alternatives(spec, defaults[name]):
            try:
                varied = strategy.validate({**defaults, name: value})
            except ParameterError:
                continue
            tried += 1
            if not np.array_equal(_signals(strategy, bars, varied), signals[0]):
                break
        else:
            if tried:
                inert.append(name)
    problems = []
    if unused:
        problems.append(f"the signal function never reads {', '.join(map(repr, unused))}")
    if inert:
        problems.append(f"changing {', '.join(map(repr, inert))} changes no signal on these bars")
    entries = int(signals[0][0].sum() + signals[0][2].sum())
    details = {"entries_with_defaults": entries, "unused": unused, "inert": inert}
    if problems:
        return CheckResult("hygiene", False, "; ".join(problems), details=details), signals
    summary = (
        f"{len(param_sets)} parameter sets give one boolean per bar for each signal, no NaN; "
        "deterministic; every parameter changes the signals; "
        "defaults inside their bounds and constraints"
    )
    if entries == 0:
        summary += "; note: the defaults never enter on these bars"
    return CheckResult("hygiene", True, summary, details=details), signals


def _lookahead(
    strategy: Strategy, bars: OHLCV, param_sets: list[dict[str, Any]], full: list[np.ndarray],
    settings: BiasCheckSettings,
) -> CheckResult:  # fmt: skip
    n = len(bars)
    cuts = np.unique(np.linspace(max(2, n // 50), n - 1, settings.cuts).astype(int))
    worst: Finding | None = None
    for params, signals in zip(param_sets, full, strict=True):
        for cut in cuts:
            cut = int(cut)
            partial = _signals(strategy, bars.slice(cut), params)
            found = _first_difference(signals[:, :cut], partial)
            if found is not None and (worst is None or found[0] < worst.bar):
                bar, signal = found
                context = f"history ending at bar {cut - 1} ({_time(bars, cut - 1)})"
                worst = _finding(bars, signals, partial, bar, signal, 0, params, context)
                break  # the shortest history that differs names the bar that reads ahead
    details = {"cuts": len(cuts), "param_sets": len(param_sets)}
    if worst is None:
        summary = f"{len(cuts)} truncation points x {len(param_sets)} parameter sets: identical"
        return CheckResult("lookahead", True, summary, details=details)
    summary = (
        f"{worst.signal} at bar {worst.bar} ({worst.time}) is {worst.full_history} with the "
        f"full history but {worst.other} with the {worst.context}: the signal reads later bars "
        f"(params {worst.params})"
    )
    return CheckResult("lookahead", False, summary, worst, details)


def _warmup(
    strategy: Strategy, bars: OHLCV, param_sets: list[dict[str, Any]], full: list[np.ndarray],
    settings: BiasCheckSettings,
) -> CheckResult:  # fmt: skip
    n = len(bars)
    starts = sorted({int(n * f) for f in settings.starts if 0 < int(n * f) < n - MIN_BARS // 2})
    measured = 0
    verified = 0  # (parameter set, start) pairs with bars left after the allowed warm-up
    stated_all: list[int | None] = []
    worst: Finding | None = None
    for params, signals in zip(param_sets, full, strict=True):
        stated = strategy.warmup_bars(params)
        stated_all.append(stated)
        for start in starts:
            late_bars = OHLCV(*(np.ascontiguousarray(a[start:]) for a in bars._arrays()))
            late = _signals(strategy, late_bars, params)
            expected = signals[:, start:]
            differs = np.flatnonzero((expected != late).any(axis=0))
            if differs.size:
                measured = max(measured, int(differs[-1]) + 1)
            allowed = (
                stated
                if stated is not None
                else int((n - start) * settings.unstated_warmup_fraction)
            )
            verified += allowed < n - start
            found = _first_difference(expected, late, 0, allowed)
            if found is not None and (worst is None or found[0] + start < worst.bar):
                bar, signal = found
                expected_full = signals
                context = (
                    f"history starting at bar {start} ({_time(bars, start)}), {bar} bars into "
                    f"it, past the allowed warm-up of {allowed} bars"
                    + (" (stated)" if stated is not None else "")
                )
                worst = _finding(
                    bars, expected_full, late, bar + start, signal, start, params, context
                )
    stated_text = (
        "none stated" if stated_all[0] is None else f"stated {stated_all[0]} for the defaults"
    )
    details = {
        "starts": starts,
        "measured_warmup": measured,
        "stated_warmup": stated_all,
        "verified": verified,
    }
    if worst is None:
        summary = (
            f"signals from {len(starts)} later starts agree with the full history after "
            f"{measured} bars at most (measured warm-up; {stated_text})"
        )
        if not verified:
            summary += "; the stated warm-up outlasts every later start: use more bars to verify it"
        return CheckResult("warmup", True, summary, details=details)
    summary = (
        f"{worst.signal} at bar {worst.bar} ({worst.time}) is {worst.full_history} with the "
        f"full history but {worst.other} with a {worst.context}: the signals depend on where "
        f"the history starts (params {worst.params})"
    )
    return CheckResult("warmup", False, summary, worst, details)


def check_strategy(
    bars: OHLCV, strategy: Strategy, settings: BiasCheckSettings | None = None
) -> BiasReport:
    """Run the hygiene, lookahead and warm-up checks of ``strategy`` on ``bars``.

    Raises:
        ValueError: fewer than ``MIN_BARS`` bars.
    """
    settings = settings or BiasCheckSettings()
    n = len(bars)
    if n < MIN_BARS:
        raise ValueError(f"the bias checks need at least {MIN_BARS} bars, got {n}")
    rng = np.random.default_rng(zlib.crc32(strategy.name.encode()))
    param_sets = [strategy.validate()]
    for _ in range(settings.random_param_sets):
        drawn = random_params(strategy, rng)
        if drawn is not None and drawn not in param_sets:
            param_sets.append(drawn)
    try:
        hygiene, full = _hygiene(strategy, bars, param_sets)
    except StrategyError as exc:
        hygiene, full = CheckResult("hygiene", False, str(exc)), []
    checks = [hygiene]
    for name, check in (("lookahead", _lookahead), ("warmup", _warmup)):
        if not full:
            checks.append(CheckResult(name, False, "not run: the signals could not be computed"))
            continue
        try:
            checks.append(check(strategy, bars, param_sets, full, settings))
        except StrategyError as exc:
            checks.append(CheckResult(name, False, f"on a shorter history: {exc}"))
    return BiasReport(
        strategy=strategy.name,
        version=strategy.code_version,
        n_bars=n,
        first_bar=_time(bars, 0),
        last_bar=_time(bars, n - 1),
        param_sets=param_sets,
        checks=checks,
    )
