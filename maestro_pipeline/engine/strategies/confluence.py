"""Confluence: Maestro's own multi-indicator rule (trend, momentum and volume must agree)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from maestro_pipeline.engine.authoring import (
    FloatParam,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)
from maestro_pipeline.engine.lazy import LazyModule

if TYPE_CHECKING:
    from maestro_pipeline.engine.strategy import IndicatorCache

# Imported when the first signal is computed: the catalog itself needs none of them.
np = LazyModule("numpy")
ind = LazyModule("maestro_pipeline.engine.indicators")
ft = LazyModule("maestro_pipeline.engine.strategies.features")


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
        "Trend: EMA(fast) > EMA(slow) of the close. Momentum: Wilder's RSI over `rsi_window` "
        "bars > `rsi_level`. Participation: the bar's volume > the simple mean of the last "
        "`volume_window` volumes (current included). Long entry on the first bar of a run where "
        "all three hold; long exit on any bar where EMA(fast) < EMA(slow) or RSI < 100 - "
        "`rsi_level`. Short entry on the first bar of a run where EMA(fast) < EMA(slow), RSI < "
        "100 - `rsi_level` and volume is above its mean; short exit on any bar where EMA(fast) "
        "> EMA(slow) or RSI > `rsi_level`."
    ),
    parameters={
        "fast": IntParam(5, 100, default=20),
        "slow": IntParam(20, 400, default=100),
        "rsi_window": IntParam(5, 50, default=14),
        "rsi_level": FloatParam(50.0, 80.0, default=55.0),
        "volume_window": IntParam(5, 200, default=20),
    },
    signal_function=_confluence,
    constraints=(LessThan("fast", "slow"),),
    warmup=lambda p: max(10 * p["slow"], 20 * p["rsi_window"], p["volume_window"] + 1),
)

STRATEGIES = (CONFLUENCE,)
