"""The backtest engines behind one interface: ``engine_version`` v2 (vectorbt, the default) or
v1 (Backtrader, event-driven).

Strategies do not know which engine runs them: both take the same signals (the strategy's
signal function, ``strategy.strategy_signals``), the same ``BacktestSettings`` and the same
fill convention (``backtest.orders``), and hand back the same ``SimulationArrays``, from
which ``backtest.tables`` computes every metric with one set of formulas. v2 simulates many
parameter sets as the columns of one vectorized run; v1 trades them one at a time, bar by
bar, in Backtrader (``backtest.event_driven``): far slower, independent of vectorbt, and so
the cross-check of v2 (``walk_forward.cross_check``).

This module imports neither engine: each loads when first asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from maestro_pipeline.engine.backtest.settings import BacktestSettings, UnsupportedSetting

if TYPE_CHECKING:
    import polars as pl

    from maestro_pipeline.engine.backtest.result import BacktestResult, SimulationArrays
    from maestro_pipeline.engine.strategy import OHLCV, Strategy

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINE_DESCRIPTIONS",
    "ENGINE_VERSIONS",
    "EngineVersion",
    "Simulator",
    "UnknownEngine",
    "UnsupportedSetting",
    "backtest",
    "check_settings",
    "checked_engine",
    "engines_help",
    "simulator",
]

EngineVersion = Literal["v1", "v2"]
ENGINE_VERSIONS: tuple[str, ...] = get_args(EngineVersion)
DEFAULT_ENGINE: EngineVersion = "v2"
ENGINE_DESCRIPTIONS = {
    "v1": "Backtrader, event-driven: one parameter set at a time, bar by bar (slow, for audits)",
    "v2": "vectorbt, vectorized: many parameter sets as the columns of one simulation",
}


def engines_help() -> str:
    """Every engine with its description, as each surface's help states them."""
    return "; ".join(f"{name}: {text}" for name, text in ENGINE_DESCRIPTIONS.items())


# (bars, signals, settings, start, stop) -> equity and positions of every signal column.
Simulator = Callable[..., "SimulationArrays"]


class UnknownEngine(ValueError):
    """An engine version that does not exist."""

    def __init__(self, version: object) -> None:
        self.version = version
        super().__init__(
            f"engine_version must be one of {', '.join(ENGINE_VERSIONS)}; got {version!r}"
        )


def checked_engine(version: object) -> EngineVersion:
    """``version`` if it names an engine; ``UnknownEngine`` otherwise."""
    if version not in ENGINE_VERSIONS:
        raise UnknownEngine(version)
    return version  # type: ignore[return-value]


def simulator(version: EngineVersion) -> Simulator:
    """The engine's simulation of signal columns over a window (``simulate_orders`` and
    ``simulate_events`` share their signature)."""
    if checked_engine(version) == "v1":
        from maestro_pipeline.engine.backtest.event_driven import simulate_events

        return simulate_events
    from maestro_pipeline.engine.backtest.simulate import simulate_orders

    return simulate_orders


def check_settings(version: EngineVersion, settings: BacktestSettings) -> None:
    """Refuse settings the engine cannot simulate (``UnsupportedSetting`` names the setting)."""
    if checked_engine(version) == "v1":
        from maestro_pipeline.engine.backtest.event_driven import check_supported

        check_supported(settings)


def backtest(
    bars: pl.DataFrame | OHLCV,
    strategy: Strategy,
    params: Mapping[str, Any] | None = None,
    settings: BacktestSettings | None = None,
    engine_version: EngineVersion = DEFAULT_ENGINE,
    start: int = 0,
    stop: int | None = None,
) -> BacktestResult:
    """Backtest one parameter set (defaults overlaid with ``params``) over ``[start, stop)``
    on the chosen engine: the same ``BacktestResult`` either way.

    Raises ``ParameterError`` for a bad parameter, ``SettingsError`` for a bad setting (its
    subclass ``UnsupportedSetting`` for one the engine cannot express) and ``UnknownEngine``.
    """
    from maestro_pipeline.engine.backtest.run import run_backtest

    check_settings(engine_version, settings or BacktestSettings())
    return run_backtest(bars, strategy, params, settings, start, stop, simulator(engine_version))
