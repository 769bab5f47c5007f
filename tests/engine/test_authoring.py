"""The authoring API: each parameter declared once, declarations refused with clear errors, and
the built-in rules behave as their descriptions state."""

from __future__ import annotations

import re

import numpy as np
import pytest

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.registry import all_strategies, get_strategy
from maestro_pipeline.engine.strategy import OHLCV, strategy_signals
from maestro_pipeline.strategy import (
    CategoricalParam,
    FloatParam,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
    StrategyDefinitionError,
)


def _signals(bars, p):
    up = bars.close > bars.open
    return SignalSet(up, ~up)


def _strategy(**overrides) -> Strategy:
    fields = {
        "name": "example",
        "description": "Long on a bar that closes above its open.",
        "parameters": {
            "fast": IntParam(2, 50, default=10),
            "slow": IntParam(10, 200, step=10, default=50),
            "kind": CategoricalParam(["ema", "sma"], default="ema"),
            "width": FloatParam(0.001, 0.1, log=True, default=0.01),
        },
        "signal_function": _signals,
        "constraints": [LessThan("fast", "slow")],
    }
    return Strategy(**{**fields, **overrides})


def test_parameters_are_declared_once_and_defaults_and_space_derive_from_them() -> None:
    strategy = _strategy()
    assert strategy.defaults == {"fast": 10, "slow": 50, "kind": "ema", "width": 0.01}
    assert strategy.space is strategy.parameters
    assert strategy.validate() == strategy.defaults
    described = strategy.describe()
    assert described["space"]["slow"] == {
        "type": "int", "low": 10, "high": 200, "step": 10, "log": False,
    }  # fmt: skip
    assert described["space"]["kind"]["choices"] == ["ema", "sma"]
    assert described["constraints"] == ["fast < slow"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad Name"}, "name 'Bad Name' must be lower-case"),
        ({"description": " "}, "the description must state the rule"),
        (
            {"parameters": {"fast": IntParam(2, 50, default=60)}, "constraints": []},
            "parameter 'fast': the default must be within [2, 50], got 60",
        ),
        (
            {"parameters": {"slow": IntParam(10, 200, step=10, default=55)}, "constraints": []},
            "parameter 'slow': the default must be 10 plus a multiple of 10, got 55",
        ),
        (
            {"parameters": {"fast": IntParam(50, 2, default=10)}, "constraints": []},
            "parameter 'fast': low (50) must be below high (2)",
        ),
        (
            {"parameters": {"w": FloatParam(0.0, 1.0, log=True, default=0.5)}, "constraints": []},
            "parameter 'w': a log scale needs low > 0 and no step",
        ),
        (
            {"parameters": {"k": CategoricalParam(("a", "b"), default="c")}, "constraints": []},
            "parameter 'k': the default must be one of ['a', 'b'], got 'c'",
        ),
        ({"constraints": [LessThan("fast", "nope")]}, "names 'nope', which is not a parameter"),
        ({"constraints": [LessThan("slow", "fast")]}, "the defaults break the constraint"),
        ({"signal_function": "signals"}, "signal_function must be a function"),
        ({"warmup": lambda p: p["missing"]}, "warmup must be a number of bars"),
    ],
)
def test_unusable_declarations_are_refused_naming_the_problem(overrides, message) -> None:
    with pytest.raises(StrategyDefinitionError, match=re.escape(message)):
        _strategy(**overrides)


def test_the_public_module_exports_the_computing_names_on_first_use() -> None:
    import maestro_pipeline.strategy as public

    assert public.indicators is ind
    assert public.strategy_signals is strategy_signals
    assert callable(public.check_strategy)
    with pytest.raises(AttributeError):
        _ = public.no_such_name


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_builtin_rules_name_every_parameter_and_state_a_warmup(strategy) -> None:
    for name in strategy.parameters:
        assert name in strategy.description, f"{strategy.name}'s rule never mentions {name}"
    assert strategy.warmup_bars(strategy.defaults) is not None or strategy.name in (
        "parabolic_sar",
        "heikin_ashi",  # path-dependent: the check measures their warm-up
    )


# ---------------------------------------------------------------- rules as the descriptions state


def _bars(close, high=None, low=None, open_=None, volume=None) -> OHLCV:
    close = np.asarray(close, dtype=np.float64)
    n = len(close)
    return OHLCV(
        np.arange(n, dtype=np.int64) * 3_600_000,
        np.asarray(open_ if open_ is not None else close, dtype=np.float64),
        np.asarray(high if high is not None else close, dtype=np.float64),
        np.asarray(low if low is not None else close, dtype=np.float64),
        close,
        np.asarray(volume if volume is not None else np.ones(n), dtype=np.float64),
    )


def test_ichimoku_gives_no_signal_before_span_b_exists(btc_1h) -> None:
    params = {"tenkan": 9, "kijun": 26, "senkou": 52}
    bars = OHLCV.from_bars(btc_1h)
    signals = strategy_signals(bars, get_strategy("ichimoku"), [params])
    first_cloud = params["senkou"] - 1 + params["kijun"]
    _, _, _, span_b = ind.ichimoku(bars.high, bars.low, 9, 26, 52)
    assert np.isnan(span_b[first_cloud - 1]) and not np.isnan(span_b[first_cloud])
    assert not signals.long_entries[:first_cloud].any()
    assert not signals.short_entries[:first_cloud].any()


def test_kama_starts_at_bar_window_on_its_close() -> None:
    close = np.linspace(100, 120, 40) + np.sin(np.arange(40))
    line = ind.kama(close, 10, 2, 30)
    assert np.isnan(line[:10]).all() and line[10] == close[10]


def test_parabolic_sar_flips_only_when_price_goes_strictly_past_it() -> None:
    high = np.array([10.0, 11, 12, 13, 14, 15])
    low = np.array([9.0, 10, 11, 12, 13, 14])
    sar, trend = ind.parabolic_sar(high, low, 0.02, 0.2)
    assert (trend[1:] == 1).all()
    touching = low.copy()
    touching[5] = sar[5]  # recomputed below: the SAR of bar 5 does not depend on bar 5's low
    sar_touch, trend_touch = ind.parabolic_sar(high, touching, 0.02, 0.2)
    assert sar_touch[5] == sar[5] and trend_touch[5] == 1
    below = low.copy()
    below[5] = np.nextafter(sar[5], -np.inf)
    assert ind.parabolic_sar(high, below, 0.02, 0.2)[1][5] == -1


def test_supertrend_starts_up_only_when_the_close_is_strictly_above_the_midpoint() -> None:
    n = 30
    high, low = np.full(n, 11.0), np.full(n, 9.0)
    at_mid = np.full(n, 10.0)
    assert ind.supertrend(high, low, at_mid, 5, 3.0)[1][5] == -1
    above = at_mid.copy()
    above[5] = 10.5
    assert ind.supertrend(high, low, above, 5, 3.0)[1][5] == 1


def test_vwap_reversion_enters_on_the_cross_not_on_every_bar_below() -> None:
    close = np.r_[np.full(60, 100.0), 90.0, 89.0, 88.0]
    bars = _bars(close)
    signals = strategy_signals(
        bars, get_strategy("vwap_reversion"), [{"window": 10, "deviation": 0.01}]
    )
    assert signals.long_entries[:, 0].tolist()[60:] == [True, False, False]


def test_mean_reversion_bands_use_the_population_deviation() -> None:
    close = np.array([1.0, 2.0, 4.0, 8.0, 3.0])
    assert ind.rolling_std(close, 5)[-1] == pytest.approx(np.std(close, ddof=0))


def test_atr_trend_stop_counts_the_current_bar_in_its_highest_high() -> None:
    high = np.array([1.0, 2.0, 5.0])
    assert ind.rolling_max(high, 2)[-1] == 5.0
