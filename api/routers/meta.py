"""What clients render generically: table columns and study settings, from their definitions."""

from __future__ import annotations

from fastapi import APIRouter

from api.models import Column, Meta, StudySetting
from maestro_pipeline.engine.walk_forward.config import setting_infos
from maestro_pipeline.storage.leaderboard import column_display
from maestro_pipeline.storage.studies import HEADLINE_COLUMNS, HEADLINE_TEXT

router = APIRouter(tags=["meta"])


@router.get("/meta")
def meta() -> Meta:
    """The leaderboard's columns (labels, formats, the values of text columns such as the
    verdict) and every study setting."""
    columns = [
        Column(
            name=name,
            label=label,
            format=kind,  # type: ignore[arg-type]
            choices=list(HEADLINE_TEXT[name]) if name in HEADLINE_TEXT else None,
        )
        for name in HEADLINE_COLUMNS
        for label, kind in [column_display(name)]
    ]
    settings = [
        StudySetting(
            name=info.name,
            type=info.type.__name__,  # type: ignore[arg-type]
            default=info.default,
            description=info.description,
            low=info.low,
            high=info.high,
            choices=list(info.choices) if info.choices else None,
        )
        for info in setting_infos()
    ]
    return Meta(leaderboard_columns=columns, study_settings=settings)
