"""Request and response models of ``POST /backtest``.

The settings body is derived from the engine's ``BacktestSettings`` (names, types, defaults
and descriptions), so a setting added there reaches the API without a second declaration.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.models import RoundTrip, StudyTarget, numbers_model
from maestro_pipeline.engine.backtest.settings import BacktestSettings, setting_help
from maestro_pipeline.engine.engines import DEFAULT_ENGINE, ENGINE_VERSIONS, engines_help
from maestro_pipeline.engine.metrics import METRIC_NAMES


def _settings_field(field: dataclasses.Field, kind: Any) -> tuple[Any, Any]:
    return kind, Field(default=field.default, description=setting_help(field.name))


_HINTS = typing.get_type_hints(BacktestSettings)
BacktestSettingsBody = create_model(  # type: ignore[call-overload]
    "BacktestSettingsBody",
    __doc__="Costs, direction, sizing and stops of a single backtest (fractions, 0.001 = 0.1 %).",
    __config__=ConfigDict(extra="forbid"),
    **{f.name: _settings_field(f, _HINTS[f.name]) for f in dataclasses.fields(BacktestSettings)},
)


class BacktestRequest(StudyTarget):
    """One backtest of a strategy on published bars, computed at once (no Dagster run)."""

    params: dict[str, Any] = Field(
        default_factory=dict, description="parameters over the strategy's defaults"
    )
    settings: BacktestSettingsBody = Field(default_factory=BacktestSettingsBody)  # type: ignore[valid-type]
    engine_version: Literal[ENGINE_VERSIONS] = Field(  # type: ignore[valid-type]
        default=DEFAULT_ENGINE,
        description=engines_help(),
    )
    start: datetime | None = Field(default=None, description="first bar (UTC), inclusive")
    end: datetime | None = Field(default=None, description="end of the bars (UTC), exclusive")


BacktestMetrics = numbers_model(
    "BacktestMetrics",
    "Metrics of the backtest (annualized over a 365-day year scaled to the bar length).",
    METRIC_NAMES,
    BaseModel,
)


class BacktestRun(BaseModel):
    """A computed backtest: what ran, its metrics and its trades."""

    strategy: str
    symbol: str
    timeframe: str
    engine_version: str
    params: dict[str, Any] = Field(description="the parameters used (defaults filled in)")
    settings: BacktestSettingsBody  # type: ignore[valid-type]
    bars: int
    start: datetime
    end: datetime
    metrics: BacktestMetrics  # type: ignore[valid-type]
    trade_count: int
    trades: list[RoundTrip]
    seconds: float = Field(description="computation time")
