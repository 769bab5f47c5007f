"""The strategy catalog, one module per family."""

from maestro_pipeline.engine.strategies import breakout, confluence, oscillators, reversion, trend

ALL_STRATEGIES = (
    *trend.STRATEGIES,
    *breakout.STRATEGIES,
    *oscillators.STRATEGIES,
    *reversion.STRATEGIES,
    *confluence.STRATEGIES,
)
