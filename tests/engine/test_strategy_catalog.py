"""The catalog: 22 documented strategies, valid defaults, and errors naming bad parameters."""

from __future__ import annotations

import re

import numpy as np
import pytest

from maestro_pipeline.engine.registry import all_strategies, get_strategy, strategy_names
from maestro_pipeline.engine.strategy import (
    OHLCV,
    CategoricalParam,
    FloatParam,
    IndicatorCache,
    IntParam,
    ParameterError,
    strategy_signals,
)

SEED_PLAN = {
    "ema_cross",
    "rsi",
    "macd",
    "bollinger",
    "ichimoku",
    "channel_breakout",
    "vwap_reversion",
    "atr_trend",
    "mean_reversion_bands",
    "confluence",
}


def test_catalog_holds_22_uniquely_named_strategies() -> None:
    names = strategy_names()
    assert len(names) == 22
    assert len(set(names)) == 22
    assert set(names) >= SEED_PLAN
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_strategy_is_documented_and_defaults_are_in_its_space(strategy) -> None:
    assert len(strategy.description) > 80
    assert set(strategy.defaults) == set(strategy.space)
    assert strategy.validate() == dict(strategy.defaults)
    described = strategy.describe()
    assert described["name"] == strategy.name
    assert set(described["space"]) == set(strategy.space)


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_defaults_trade_both_ways_on_real_bars(btc_1h, strategy) -> None:
    signals = strategy_signals(btc_1h, strategy, [{}])
    assert signals.long_entries.shape == (btc_1h.height, 1)
    for array in (signals.long_entries, signals.long_exits, signals.short_entries):
        assert array.dtype == np.bool_
        assert array.any(), "two years of hourly BTC must produce signals"
    assert not (signals.long_entries & signals.long_exits).any()


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_out_of_range_and_wrongly_typed_values_name_the_parameter(strategy) -> None:
    for name, spec in strategy.space.items():
        if isinstance(spec, IntParam | FloatParam):
            with pytest.raises(ParameterError, match=f"'{name}'.*within"):
                strategy.validate({name: spec.high + (spec.high - spec.low) + 1})
            with pytest.raises(ParameterError, match=f"'{name}'.*must be"):
                strategy.validate({name: "ten"})
        else:
            assert isinstance(spec, CategoricalParam)
            with pytest.raises(ParameterError, match=f"'{name}'.*one of"):
                strategy.validate({name: "no-such-choice"})
    with pytest.raises(ParameterError, match="'no_such_parameter' is not a parameter"):
        strategy.validate({"no_such_parameter": 1})


def test_fast_not_below_slow_is_rejected_naming_fast() -> None:
    with pytest.raises(ParameterError, match="'fast' must be less than 'slow'"):
        get_strategy("ema_cross").validate({"fast": 30, "slow": 30})
    with pytest.raises(ParameterError, match="'fast' must be less than 'slow'"):
        get_strategy("macd").validate({"fast": 40, "slow": 26})
    with pytest.raises(ParameterError, match="'exit_window' must be less than 'entry_window'"):
        get_strategy("donchian_turtle").validate({"entry_window": 20, "exit_window": 25})


def test_integer_parameters_refuse_fractions_and_booleans() -> None:
    rsi = get_strategy("rsi")
    with pytest.raises(ParameterError, match="'window' must be an integer"):
        rsi.validate({"window": 14.5})
    with pytest.raises(ParameterError, match="'window' must be an integer"):
        rsi.validate({"window": True})
    assert rsi.validate({"window": 14.0})["window"] == 14


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known strategies: ema_cross"):
        get_strategy("fernando")


def test_batch_columns_equal_single_runs(btc_1h) -> None:
    strategy = get_strategy("ema_cross")
    params = [{"fast": 5, "slow": 20}, {"fast": 12, "slow": 26}, {"fast": 5, "slow": 50}]
    batch = strategy_signals(btc_1h, strategy, params)
    for j, p in enumerate(params):
        single = strategy_signals(btc_1h, strategy, [p])
        np.testing.assert_array_equal(batch.long_entries[:, j], single.long_entries[:, 0])
        np.testing.assert_array_equal(batch.short_exits[:, j], single.short_exits[:, 0])
    assert not np.array_equal(batch.long_entries[:, 0], batch.long_entries[:, 1])


def test_a_shared_indicator_cache_gives_the_same_signals(btc_1h) -> None:
    strategy = get_strategy("keltner")
    ohlcv = OHLCV.from_bars(btc_1h)
    cache = IndicatorCache(ohlcv)
    first = strategy_signals(ohlcv, strategy, [{}], cache)
    again = strategy_signals(ohlcv, strategy, [{"multiplier": 3.0}, {}], cache)
    np.testing.assert_array_equal(again.long_entries[:, 1], first.long_entries[:, 0])
    with pytest.raises(ValueError, match="other bars"):
        strategy_signals(ohlcv.slice(100), strategy, [{}], cache)
