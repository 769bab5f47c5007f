"""A study's validation artifacts, one endpoint each: the verdict with its reasons, the
bootstrap, the cpcv backtest paths, the parameter plateau and the engine cross-check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.context import ApiContext, Context
from api.errors import ArtifactMissing
from api.published import NOT_FOUND, StudyId, optional_frame, study_summary
from api.validation_models import Bootstrap, Cpcv, CrossCheck, Plateau, Validation
from api.validation_views import (
    bootstrap_view,
    cpcv_view,
    cross_check_view,
    plateau_view,
    validation_view,
)
from maestro_pipeline.keys import StudyKey

router = APIRouter(prefix="/optimization", tags=["validation"])

MISSING = {
    404: {
        "description": "unknown strategy, the study is not materialized yet, or it lacks this "
        "artifact (the message says why and what to run)"
    }
}
RESPONSES = {**NOT_FOUND, **MISSING}


def _rerun(ctx: ApiContext, key: StudyKey) -> str:
    return f"it was published before this existed; re-run it: {ctx.study_hint(key)}"


def _summary_view(ctx: ApiContext, tid: str, build: Callable[..., Any], what: str) -> Any:
    """``build(key, summary)`` of the study's summary; 404 saying how to get it when the
    published version has none."""
    key = ctx.study_key(tid)
    view = build(key, study_summary(ctx, key))
    if view is None:
        raise ArtifactMissing(what, key.study_id, _rerun(ctx, key))
    return view


@router.get("/{tid}/validation", responses=RESPONSES)
def get_validation(ctx: Context, tid: StudyId) -> Validation:
    """The study's verdict (robust, fragile, overfit, insufficient), the reasons in words,
    every check with its statistic and status, and the thresholds they used."""
    return _summary_view(ctx, tid, validation_view, "verdict")


@router.get("/{tid}/bootstrap", responses=RESPONSES)
def get_bootstrap(ctx: Context, tid: StudyId) -> Bootstrap:
    """Confidence intervals of the OOS Sharpe, CAGR, max drawdown and total return
    (stationary block bootstrap), the probability of a loss, the equity fan, and the
    trade-order Monte Carlo's drawdown distribution."""
    return _summary_view(ctx, tid, bootstrap_view, "bootstrap")


@router.get("/{tid}/cpcv", responses=RESPONSES)
def get_cpcv(
    ctx: Context,
    tid: StudyId,
    points: Annotated[
        int | None,
        Query(ge=2, le=100_000, description="at most this many evenly spaced bars per path"),
    ] = None,
) -> Cpcv:
    """A cpcv study's backtest paths: the distribution of OOS Sharpe over them, each path's
    figures and equity (columnar), the groups and the splits. Walk-forward studies have none
    (404)."""
    key = ctx.study_key(tid)
    summary = study_summary(ctx, key)
    if summary.get("scheme", "walk_forward") != "cpcv":
        raise ArtifactMissing(
            "cpcv paths",
            key.study_id,
            "it is a walk-forward study; run it with scheme cpcv for backtest paths "
            "(the study setting `scheme`, e.g. in POST /api/v2/optimization)",
        )
    view = cpcv_view(key, summary, optional_frame(ctx, key, "paths"), points)
    if view is None:
        raise ArtifactMissing("cpcv paths", key.study_id, _rerun(ctx, key))
    return view


@router.get("/{tid}/plateau", responses=RESPONSES)
def get_plateau(ctx: Context, tid: StudyId) -> Plateau:
    """Parameter plateaus: the stability score of the chosen parameters (per search and
    overall), parameter importances, and the heatmap of the objective over the two most
    important parameters with each search's choice."""
    return _summary_view(ctx, tid, plateau_view, "parameter plateau")


@router.get("/{tid}/cross-check", responses=RESPONSES)
def get_cross_check(ctx: Context, tid: StudyId) -> CrossCheck:
    """Each fold's chosen parameters re-run on the event-driven engine (v1): Sharpe, return
    and trade count on both engines, their deviations and whether all stay within the
    tolerance."""
    key = ctx.study_key(tid)
    view = cross_check_view(key, study_summary(ctx, key))
    if view is None:
        raise ArtifactMissing(
            "engine cross-check",
            key.study_id,
            f"none was recorded when it was published; re-run it: {ctx.study_hint(key)}",
        )
    return view
