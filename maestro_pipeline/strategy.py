"""Write your own strategy: the public authoring API.

A strategy file declares ``Strategy`` objects at module level::

    from maestro_pipeline.strategy import IntParam, LessThan, SignalSet, Strategy, indicators

    def signals(bars, p):
        fast = indicators.sma(bars.close, p["fast"])
        slow = indicators.sma(bars.close, p["slow"])
        up, down = indicators.cross_above(fast, slow), indicators.cross_below(fast, slow)
        return SignalSet(long_entries=up, long_exits=down)

    SMA_CROSS = Strategy(
        name="sma_cross",
        description="...the rule, precisely...",
        parameters={"fast": IntParam(2, 50, default=10), "slow": IntParam(10, 200, default=50)},
        signal_function=signals,
        constraints=[LessThan("fast", "slow")],
    )

Put the file in a directory named by ``MAESTRO_STRATEGY_PATH`` (or expose the strategies from
a package in the entry-point group ``maestro.strategies``); ``maestro strategies`` lists it,
``maestro check NAME`` tests it for lookahead and warm-up bias.

The declaration names (``Strategy``, the parameters, ``LessThan``, ``SignalSet``) import
nothing heavy. ``indicators`` (numba kernels: ``sma``, ``ema``, ``wilder``, ``rsi``, ``atr``,
``rolling_max``, ``cross_above``, ``shift``...), ``OHLCV``, ``IndicatorCache``,
``strategy_signals``, ``StrategyError`` and ``check_strategy`` are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from maestro_pipeline.engine.authoring import (
    CategoricalParam,
    FloatParam,
    IntParam,
    LessThan,
    ParameterError,
    SignalSet,
    Strategy,
    StrategyDefinitionError,
)

if TYPE_CHECKING:
    from maestro_pipeline.engine import indicators
    from maestro_pipeline.engine.bias import check_strategy
    from maestro_pipeline.engine.strategy import (
        OHLCV,
        IndicatorCache,
        StrategyError,
        strategy_signals,
    )

__all__ = [
    "OHLCV",
    "CategoricalParam",
    "FloatParam",
    "IndicatorCache",
    "IntParam",
    "LessThan",
    "ParameterError",
    "SignalSet",
    "Strategy",
    "StrategyDefinitionError",
    "StrategyError",
    "check_strategy",
    "indicators",
    "strategy_signals",
]

_LAZY = {
    "OHLCV": ("maestro_pipeline.engine.strategy", "OHLCV"),
    "IndicatorCache": ("maestro_pipeline.engine.strategy", "IndicatorCache"),
    "StrategyError": ("maestro_pipeline.engine.strategy", "StrategyError"),
    "strategy_signals": ("maestro_pipeline.engine.strategy", "strategy_signals"),
    "check_strategy": ("maestro_pipeline.engine.bias", "check_strategy"),
    "indicators": ("maestro_pipeline.engine.indicators", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
