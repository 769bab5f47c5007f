"""What every request reads from: settings, the lake, published studies and reports."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.config import ApiConfig
from api.errors import FieldError, NotMaterialized
from maestro_pipeline.catalog import load_catalog
from maestro_pipeline.keys import STUDY_ASSET, WALK_FORWARD_JOB, StudyKey
from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.lake import Lake
from maestro_pipeline.storage.reports import ReportStore
from maestro_pipeline.storage.studies import StudyStore


@dataclass(frozen=True)
class ApiContext:
    """Read-only handles on the pipeline's published outputs."""

    settings: Settings
    config: ApiConfig

    @cached_property
    def lake(self) -> Lake:
        return self.settings.lake

    @cached_property
    def studies(self) -> StudyStore:
        return StudyStore(self.settings.data_dir)

    @cached_property
    def reports(self) -> ReportStore:
        return ReportStore(self.settings.data_dir)

    @property
    def exchange(self) -> str:
        return self.settings.lake_exchange

    def study_key(self, study_id: str, location: str = "path", name: str = "tid") -> StudyKey:
        """The study named by ``study_id``; 422 if malformed, 404 if the strategy is unknown."""
        try:
            key = StudyKey.from_study_id(study_id)
        except ValueError as exc:
            raise FieldError(422, location, name, str(exc)) from None
        catalog = load_catalog()
        if catalog.entry(key.strategy) is None:  # a broken strategy's studies stay readable
            raise FieldError(
                404,
                location,
                name,
                f"unknown strategy {key.strategy!r} in study id {study_id!r}; "
                f"known strategies: {', '.join(catalog.names())}",
            )
        return key

    def study_hint(self, key: StudyKey) -> str:
        """How to produce a study: the Dagster partition to materialize."""
        return (
            f"materialize {STUDY_ASSET} partition {key.partition_key!r} in Dagster "
            f"(or POST /api/v2/optimization)"
        )

    def report_missing(self, key: StudyKey, what: str) -> NotMaterialized:
        return NotMaterialized(
            f"{what} of study {key.study_id!r}",
            f"materialize strategy_report partition {key.partition_key!r} ({WALK_FORWARD_JOB}) "
            "in Dagster",
        )


async def get_context(request: Request) -> ApiContext:
    """The app's context (async: a sync dependency would cost a thread hop per request)."""
    return request.app.state.context


Context = Annotated[ApiContext, Depends(get_context)]


_bearer = HTTPBearer(
    auto_error=False,
    description="MAESTRO_API_TOKEN, when the server sets one: endpoints that start work need it",
)


async def require_write_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries the server's bearer token (when it has one)."""
    token = request.app.state.context.config.api_token
    if token is None:
        return
    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail=f"{request.method} {request.url.path} starts work: send "
            "'Authorization: Bearer <token>' with the server's MAESTRO_API_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Constant time: how long the comparison takes says nothing about how much of it matched.
    if not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(
            status_code=401,
            detail="the bearer token does not match the server's MAESTRO_API_TOKEN",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


# Every route that starts work (launches runs) depends on this.
WriteAccess = Depends(require_write_access)
