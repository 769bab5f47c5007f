"""Bias checks: the 22 built-ins pass; lookahead, unstable warm-ups and bad code are caught."""

from __future__ import annotations

import numpy as np
import pytest

from maestro_pipeline.engine.bias import BiasCheckSettings, check_strategy
from maestro_pipeline.engine.registry import all_strategies
from maestro_pipeline.engine.strategy import (
    OHLCV,
    FloatParam,
    IntParam,
    SignalSet,
    Strategy,
    StrategyError,
    strategy_signals,
)


@pytest.fixture(scope="module")
def bars(btc_1h) -> OHLCV:
    return OHLCV.from_bars(btc_1h)


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_every_builtin_passes_the_bias_checks(bars, strategy) -> None:
    # Four random parameter sets besides the defaults, on two years of hourly bars.
    report = check_strategy(bars, strategy, BiasCheckSettings(random_param_sets=4))
    assert report.passed, [(c.name, c.summary) for c in report.failures()]
    assert [c.name for c in report.checks] == ["hygiene", "lookahead", "warmup"]
    assert report.checks[2].details["verified"] > 0, "the warm-up was never compared"
    assert report.checks[0].details["entries_with_defaults"] > 0


def _peeks_next_close(bars, p):
    close = bars.close
    tomorrow = np.append(close[1:], close[-1])
    rises = tomorrow > close * (1 + p["edge"])
    return SignalSet(long_entries=rises, long_exits=~rises)


PEEKS = Strategy(
    name="peeks_next_close",
    description="Long when the next bar closes higher: reads a bar it cannot know.",
    parameters={"edge": FloatParam(0.0, 0.01, default=0.001)},
    signal_function=_peeks_next_close,
)


def _above_first_close(bars, p):
    above = bars.close > bars.close[0] * (1 + p["margin"])
    before = np.append(False, above[:-1])
    return SignalSet(long_entries=above & ~before, long_exits=~above)


ANCHORED = Strategy(
    name="above_first_close",
    description="Long while the close is above the history's first close: depends on the start.",
    parameters={"margin": FloatParam(0.0, 0.5, default=0.1)},
    signal_function=_above_first_close,
)


def test_reading_the_next_bar_fails_lookahead_naming_the_bar(bars) -> None:
    report = check_strategy(bars, PEEKS)
    lookahead = {c.name: c for c in report.checks}["lookahead"]
    assert not report.passed and not lookahead.passed
    finding = lookahead.finding
    assert finding is not None and finding.signal in ("long_entries", "long_exits")
    # The offending bar is the last one of a cut history: its signal needed the next close.
    assert f"bar {finding.bar}" in lookahead.summary
    assert f"ending at bar {finding.bar}" in finding.context
    assert finding.full_history != finding.other
    full = strategy_signals(bars, PEEKS, [{}])
    cut = strategy_signals(bars.slice(finding.bar + 1), PEEKS, [{}])
    assert getattr(full, finding.signal)[finding.bar, 0] != getattr(cut, finding.signal)[-1, 0]


def test_signals_anchored_to_the_first_bar_fail_the_warmup_check(bars) -> None:
    report = check_strategy(bars, ANCHORED)
    checks = {c.name: c for c in report.checks}
    assert checks["lookahead"].passed and checks["hygiene"].passed
    warmup = checks["warmup"]
    assert not warmup.passed
    assert warmup.finding is not None and "starting at bar" in warmup.finding.context
    assert f"bar {warmup.finding.bar}" in warmup.summary


def test_a_stated_warmup_is_held_to(bars) -> None:
    """Stating a warm-up that is too short fails; a long enough one passes."""
    lying = Strategy(
        name="short_warmup",
        description="An EMA cross that claims to forget its seed after 3 bars.",
        parameters={"n": IntParam(50, 60, default=50)},
        signal_function=lambda b, p: SignalSet(*_ema_above(b, p["n"])),
        warmup=3,
    )
    assert not {c.name: c for c in check_strategy(bars, lying).checks}["warmup"].passed
    honest = Strategy(
        name="long_warmup",
        description=lying.description,
        parameters=lying.parameters,
        signal_function=lying.signal_function,
        warmup=lambda p: 10 * p["n"],
    )
    assert check_strategy(bars, honest).passed


def _ema_above(bars, n):
    from maestro_pipeline.engine import indicators

    above = bars.close > indicators.ema(bars.close, n)
    return above, ~above


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda b: SignalSet(b.close[:-1] > 0, b.close[:-1] < 0), "shape"),
        (lambda b: SignalSet(np.where(b.close > 0, np.nan, 1.0), b.close < 0), "NaN at bar 0"),
        (lambda b: SignalSet(b.close, b.close < 0), "expected booleans"),
        (lambda b: (b.close > 0, b.close < 0), "must return a SignalSet"),
        (lambda b: 1 / 0, "raised ZeroDivisionError"),
    ],
    ids=["shape", "nan", "prices", "tuple", "raises"],
)
def test_bad_signals_fail_hygiene_naming_strategy_file_and_line(bars, returned, message) -> None:
    strategy = Strategy(
        name="bad_signals",
        description="Returns something that is not one boolean per bar.",
        parameters={"n": IntParam(1, 5, default=2)},
        signal_function=lambda b, p: returned(b),
    )
    with pytest.raises(StrategyError, match=message) as raised:
        strategy_signals(bars, strategy, [{}])
    assert "strategy 'bad_signals' (" in str(raised.value)
    assert f"{__file__}, line " in str(raised.value)
    report = check_strategy(bars, strategy)
    hygiene = report.checks[0]
    assert not report.passed and not hygiene.passed and message in hygiene.summary


def test_unused_and_inert_parameters_fail_hygiene(bars) -> None:
    def signals(b, p):
        up = b.close > b.open
        _ = p["inert"] * 0
        return SignalSet(up, ~up)

    strategy = Strategy(
        name="ignores_parameters",
        description="Declares parameters its rule does not use.",
        parameters={
            "unused": IntParam(1, 10, default=5),
            "inert": FloatParam(0.0, 1.0, default=0.5),
        },
        signal_function=signals,
    )
    hygiene = check_strategy(bars, strategy).checks[0]
    assert not hygiene.passed
    assert "never reads 'unused'" in hygiene.summary
    assert "changing 'inert' changes no signal" in hygiene.summary


def test_nondeterministic_signals_fail_hygiene(bars) -> None:
    rng = np.random.default_rng()

    def coin(b, p):
        heads = rng.random(len(b)) < p["odds"]
        return SignalSet(heads, ~heads)

    strategy = Strategy(
        name="coin_flip",
        description="Enters on a coin flip.",
        parameters={"odds": FloatParam(0.1, 0.9, default=0.5)},
        signal_function=coin,
    )
    hygiene = check_strategy(bars, strategy).checks[0]
    assert not hygiene.passed and "not deterministic" in hygiene.summary


def test_too_few_bars_are_refused(bars) -> None:
    with pytest.raises(ValueError, match="at least 100 bars"):
        check_strategy(bars.slice(50), PEEKS)
