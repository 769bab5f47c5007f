"""Reading one published study for a request: its summary and frames, or the HTTP error that
says why they cannot be read (404 naming what to materialize, 503 while a version is replaced)."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from fastapi import Path

from api.context import ApiContext
from api.errors import NotMaterialized, StoreBusy
from api.models import STUDY_ID_PATTERN
from maestro_pipeline.keys import StudyKey

StudyId = Annotated[
    str,
    Path(
        description="study id STRATEGY.BASE-QUOTE.TIMEFRAME, e.g. ema_cross.BTC-USD.1h",
        json_schema_extra={"pattern": STUDY_ID_PATTERN},
    ),
]
NOT_FOUND = {404: {"description": "unknown strategy, or the study is not materialized yet"}}


def study_summary(ctx: ApiContext, key: StudyKey) -> dict[str, Any]:
    """The study's published ``summary.json``."""
    try:
        summary = ctx.studies.read_summary(key)
    except FileNotFoundError:
        raise StoreBusy(f"study {key.study_id}") from None
    if summary is None:
        raise NotMaterialized(f"study {key.study_id!r}", ctx.study_hint(key))
    return summary


def optional_frame(ctx: ApiContext, key: StudyKey, name: str) -> pl.DataFrame | None:
    """One of the study's published frames; None when the study or that frame is absent."""
    try:
        return ctx.studies.read_frame(key, name)
    except FileNotFoundError:
        raise StoreBusy(f"study {key.study_id}") from None


def study_frame(ctx: ApiContext, key: StudyKey, name: str) -> pl.DataFrame:
    """One of the study's published frames (``StudyStore.STUDY_FRAMES``)."""
    frame = optional_frame(ctx, key, name)
    if frame is None:
        raise NotMaterialized(f"study {key.study_id!r}", ctx.study_hint(key))
    return frame
