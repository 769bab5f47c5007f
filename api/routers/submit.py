"""Submitting a study: launches a Dagster run of the study asset through the webserver's
GraphQL API (the API itself never computes or writes results)."""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException

from api.config import ApiConfig
from api.context import ApiContext, Context, WriteAccess
from api.errors import FieldError
from api.models import StudyRequest, StudySubmitted
from api.request_checks import runnable_strategy, symbol_and_timeframe
from maestro_pipeline.engine.walk_forward.config import setting_infos
from maestro_pipeline.keys import (
    STUDY_ASSET,
    WALK_FORWARD_JOB,
    StudyKey,
)

router = APIRouter(prefix="/optimization", tags=["optimization"])


class DagsterUnavailable(HTTPException):
    """503: no Dagster webserver answers at the configured URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            status_code=503,
            detail=(
                f"no Dagster webserver answers at {url} ({reason}); start it with "
                "`make dagster-dev` or set MAESTRO_DAGSTER_URL"
            ),
            headers={"Retry-After": "10"},
        )


def _checked_request(ctx: ApiContext, request: StudyRequest) -> StudyKey:  # type: ignore[valid-type]
    """The study key, when the Dagster code location has this partition; 422 naming the field."""
    runnable_strategy(request.strategy)
    symbol = symbol_and_timeframe(request.symbol, request.timeframe)
    settings = ctx.settings
    if symbol not in settings.symbols:
        raise FieldError(
            404,
            "body",
            "symbol",
            f"symbol {request.symbol!r} is not configured; one of {', '.join(settings.symbols)} "
            "(MAESTRO_SYMBOLS)",
        )
    if request.timeframe not in settings.study_timeframes:
        raise FieldError(
            404,
            "body",
            "timeframe",
            f"timeframe {request.timeframe!r} has no study partitions; one of "
            f"{', '.join(settings.study_timeframes)} (MAESTRO_STUDY_TIMEFRAMES)",
        )
    return StudyKey(request.strategy, symbol, request.timeframe)


def launch_study_run(config: ApiConfig, key: StudyKey, study_config: dict[str, Any]) -> str:
    """Submit ``walk_forward_job`` for the study's partition; returns the Dagster run id."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    url = urlsplit(config.dagster_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise DagsterUnavailable(config.dagster_url, "MAESTRO_DAGSTER_URL is not an http(s) URL")
    tags = {
        "dagster/partition": key.partition_key,
        **{f"dagster/partition/{name}": value for name, value in key.partition_dimensions.items()},
        "maestro/launched_by": "api",
    }
    try:
        client = DagsterGraphQLClient(
            url.hostname,
            port_number=url.port,
            use_https=url.scheme == "https",
            timeout=config.dagster_timeout_seconds,
            path_prefix=url.path.rstrip("/"),
        )
        with warnings.catch_warnings():
            # Dagster's own per-dimension tags (dagster/partition/<dim>) trip its tag-key lint.
            warnings.filterwarnings("ignore", message="Non-compliant tag keys")
            return client.submit_job_execution(
                WALK_FORWARD_JOB,
                repository_location_name=config.dagster_location,
                repository_name=config.dagster_repository,
                run_config={"ops": {STUDY_ASSET: {"config": study_config}}},
                tags=tags,
            )
    except DagsterGraphQLClientError as exc:
        message = str(exc)
        if "connecting to url" in message or "Connection" in type(exc.__cause__).__name__:
            raise DagsterUnavailable(config.dagster_url, "connection failed") from None
        raise HTTPException(
            status_code=502, detail=f"Dagster refused the run: {message[:500]}"
        ) from None


@router.post(
    "",
    status_code=202,
    dependencies=[WriteAccess],
    responses={
        400: {"description": "the body is not valid JSON"},
        401: {"description": "MAESTRO_API_TOKEN is set and the bearer token is missing or wrong"},
        404: {"description": "symbol or timeframe not configured (the field is named)"},
        422: {"description": "malformed request or unknown strategy (the field is named)"},
        502: {"description": "Dagster answered but refused the run"},
        503: {"description": "no Dagster webserver is reachable"},
    },
)
def submit_study(ctx: Context, request: StudyRequest) -> StudySubmitted:  # type: ignore[valid-type]
    """Launch a walk-forward study run in Dagster; follow it on the progress WebSocket."""
    key = _checked_request(ctx, request)
    # The study settings the request sets (the rest keep the deployment's defaults).
    given = request.model_dump()  # type: ignore[attr-defined]
    study_config = {
        info.name: given[info.name] for info in setting_infos() if given[info.name] is not None
    }
    run_id = launch_study_run(ctx.config, key, study_config)
    return StudySubmitted(
        study_id=key.study_id,
        run_id=run_id,
        partition_key=key.partition_key,
        dagster_run_url=f"{ctx.config.dagster_url}/runs/{run_id}",
        progress_url=f"/api/v2/optimization/{key.study_id}/progress?run_id={run_id}",
    )
