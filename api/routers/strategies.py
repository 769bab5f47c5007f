"""The strategy catalog."""

from __future__ import annotations

from fastapi import APIRouter

from api.models import StrategyInfo
from maestro_pipeline.engine.registry import all_strategies

router = APIRouter(tags=["strategies"])


@router.get("/strategies")
def list_strategies() -> list[StrategyInfo]:
    """Every strategy: name, rule, default parameters, parameter space and constraints."""
    return [StrategyInfo.model_validate(strategy.describe()) for strategy in all_strategies()]
