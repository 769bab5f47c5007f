"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import Context
from api.models import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ctx: Context) -> Health:
    """The API is up; what it can read from the data directory."""
    return Health(
        data_dir=str(ctx.settings.data_dir),
        lake_exchange=ctx.exchange,
        symbols=ctx.lake.symbols(ctx.exchange),
        timeframes=list(ctx.settings.all_timeframes),
        studies_published=len(ctx.studies.published_keys()),
        leaderboard=ctx.reports.leaderboard_path.exists(),
    )
