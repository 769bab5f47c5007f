"""The strategy catalog."""

from __future__ import annotations

from fastapi import APIRouter

from api.models import StrategyInfo
from maestro_pipeline.catalog import load_catalog

router = APIRouter(tags=["strategies"])


@router.get("/strategies")
def list_strategies() -> list[StrategyInfo]:
    """Every strategy: name, rule, defaults, parameter space, constraints, code version and
    source (built-in, a MAESTRO_STRATEGY_PATH file or a package); one that cannot be loaded is
    listed with its error."""
    return [StrategyInfo.model_validate(entry.describe()) for entry in load_catalog().entries]
