"""Published walk-forward studies: the list, one study, its trades, equity, report, insights."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from api.context import Context
from api.legacy import legacy_study
from api.models import (
    Equity,
    Insights,
    LegacyStudy,
    ReportMetrics,
    StudyDetail,
    StudyList,
    Trades,
)
from api.published import NOT_FOUND, StudyId
from api.published import study_frame as _frame
from api.published import study_summary as _summary
from api.study_views import equity_view, study_detail, study_summary, trades_view
from maestro_pipeline.catalog import load_catalog

router = APIRouter(prefix="/optimization", tags=["optimization"])


@router.get("")
def list_studies(ctx: Context) -> StudyList:
    """Every published or running study with headline OOS metrics and status."""
    keys = sorted(
        {*ctx.studies.published_keys(), *ctx.studies.progress_keys()}, key=lambda k: k.study_id
    )
    studies = []
    catalog = load_catalog()
    for key in keys:
        try:
            summary = ctx.studies.read_summary(key)
        except FileNotFoundError:
            summary = None
        entry = catalog.entry(key.strategy)
        version = entry.version if entry is not None else None
        studies.append(study_summary(key, summary, ctx.studies.read_progress(key), version))
    return StudyList(count=len(studies), studies=studies)


@router.get("/{tid}", responses=NOT_FOUND)
def get_study(
    ctx: Context,
    tid: StudyId,
    result_schema: Annotated[
        Literal["v2", "v1"],
        Query(alias="schema", description="v1: the old stack's PyFolio/BuySell shape"),
    ] = "v2",
) -> StudyDetail | LegacyStudy:
    """A study's folds, best parameters per fold, IS/OOS metrics, DSR and PBO."""
    key = ctx.study_key(tid)
    summary = _summary(ctx, key)
    folds = _frame(ctx, key, "folds")
    if result_schema == "v1":
        return legacy_study(key, summary, folds, _frame(ctx, key, "trades"))
    entry = load_catalog().entry(key.strategy)
    version = entry.version if entry is not None else None
    return study_detail(key, summary, folds, ctx.studies.read_progress(key), version)


@router.get("/{tid}/trades", responses=NOT_FOUND)
def get_trades(ctx: Context, tid: StudyId) -> Trades:
    """Every out-of-sample trade of the study, in time order."""
    key = ctx.study_key(tid)
    return trades_view(key, _frame(ctx, key, "trades"))


@router.get("/{tid}/equity", responses=NOT_FOUND)
def get_equity(ctx: Context, tid: StudyId) -> Equity:
    """The stitched out-of-sample equity curve, returns and drawdown."""
    key = ctx.study_key(tid)
    return equity_view(key, _frame(ctx, key, "equity"))


@router.get(
    "/{tid}/report",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "QuantStats tear sheet"},
        **NOT_FOUND,
    },
)
def get_report(ctx: Context, tid: StudyId) -> FileResponse:
    """The study's QuantStats HTML tear sheet (OOS returns vs buy-and-hold)."""
    key = ctx.study_key(tid)
    path: FilePath = ctx.reports.path(key, "tearsheet")
    if not path.is_file():
        raise ctx.report_missing(key, "the tear sheet")
    return FileResponse(path, media_type="text/html")


@router.get("/{tid}/metrics", responses=NOT_FOUND)
def get_report_metrics(ctx: Context, tid: StudyId) -> ReportMetrics:
    """QuantStats headline metrics and the full metrics table, strategy vs buy-and-hold."""
    key = ctx.study_key(tid)
    report = ctx.reports.read_json(key, "report")
    if report is None:
        raise ctx.report_missing(key, "the report")
    return ReportMetrics.model_validate({**report, "study_id": key.study_id})


@router.get("/{tid}/insights", responses=NOT_FOUND)
def get_insights(ctx: Context, tid: StudyId) -> Insights:
    """Optuna optimization history and PED-ANOVA parameter importances, per fold and overall."""
    key = ctx.study_key(tid)
    insights = ctx.reports.read_json(key, "insights")
    if insights is None:
        raise ctx.report_missing(key, "the insights")
    return Insights.model_validate({**insights, "study_id": key.study_id})
