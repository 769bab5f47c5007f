"""Confluence: Maestro's own multi-indicator rule (trend, momentum and volume must agree)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.strategies import features as ft
from maestro_pipeline.engine.strategy import (
    FloatParam,
    IndicatorCache,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)


def _confluence(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    fast = cache.get(ft.close_ema, p["fast"])
    slow = cache.get(ft.close_ema, p["slow"])
    strength = cache.get(ft.close_rsi, p["rsi_window"])
    active = cache.bars.volume > cache.get(ft.volume_sma, p["volume_window"])
    bull_level, bear_level = p["rsi_level"], 100.0 - p["rsi_level"]
    with np.errstate(invalid="ignore"):
        bullish = (fast > slow) & (strength > bull_level) & active
        bearish = (fast < slow) & (strength < bear_level) & active
        return SignalSet(
            long_entries=ind.became_true(bullish),
            long_exits=(fast < slow) | (strength < bear_level),
            short_entries=ind.became_true(bearish),
            short_exits=(fast > slow) | (strength > bull_level),
        )


CONFLUENCE = Strategy(
    name="confluence",
    description=(
        "Maestro's custom confluence rule: three independent confirmations must line up. "
        "Trend: EMA(fast) above EMA(slow). Momentum: Wilder RSI above `rsi_level`. "
        "Participation: volume above its `volume_window`-bar mean. Long on the first bar all "
        "three hold; exit when the trend flips (fast below slow) or momentum collapses (RSI "
        "below 100 - `rsi_level`). Shorts mirror the rule."
    ),
    defaults={"fast": 20, "slow": 100, "rsi_window": 14, "rsi_level": 55.0, "volume_window": 20},
    space={
        "fast": IntParam(5, 100),
        "slow": IntParam(20, 400),
        "rsi_window": IntParam(5, 50),
        "rsi_level": FloatParam(50.0, 80.0),
        "volume_window": IntParam(5, 200),
    },
    signal_function=_confluence,
    constraints=(LessThan("fast", "slow"),),
)

STRATEGIES = (CONFLUENCE,)
