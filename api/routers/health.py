"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import Context
from api.models import Health
from maestro_pipeline.catalog import strategy_names

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ctx: Context) -> Health:
    """The API is up; what it can read from the data directory."""
    settings = ctx.settings
    series = len(settings.symbols) * len(settings.study_timeframes)
    running = [
        key
        for key in ctx.studies.progress_keys()
        if (ctx.studies.read_progress(key) or {}).get("status") == "running"
    ]
    return Health(
        data_dir=str(settings.data_dir),
        lake_exchange=ctx.exchange,
        symbols=ctx.lake.symbols(ctx.exchange),
        timeframes=list(settings.all_timeframes),
        studies_published=len(ctx.studies.published_keys()),
        studies_expected=len(strategy_names()) * series,
        studies_running=len(running),
        leaderboard=ctx.reports.leaderboard_path.exists(),
    )
