"""The Maestro API: reads what the pipeline published; launches study runs through Dagster.

Start it with ``maestro serve`` (or ``uvicorn api.main:app``); OpenAPI docs at ``/docs``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from api.bars_cache import BarsCache
from api.config import ApiConfig, load_api_config
from api.context import ApiContext
from api.fast_path import BarsFastPath
from api.frontend import mount_frontend
from api.routers import (
    backtest,
    bars,
    health,
    leaderboard,
    meta,
    progress,
    strategies,
    studies,
    submit,
    validation,
)
from maestro_pipeline.settings import Settings, load_settings

API_PREFIX = "/api/v2"
DESCRIPTION = """
Read-only access to what the Maestro pipeline published: Parquet bars, walk-forward and cpcv
studies (folds, OOS equity, trades, DSR, PBO), their validation (verdict and reasons,
bootstrap intervals, cpcv paths, parameter plateaus, engine cross-check), QuantStats reports,
Optuna insights and the leaderboard. `POST /optimization` asks the Dagster webserver to run a
study; its progress streams over a WebSocket. `POST /backtest` computes one backtest on the
published bars, on engine v2 (vectorbt) or v1 (Backtrader). Errors name the request field at
fault. When the server sets `MAESTRO_API_TOKEN`, endpoints that start work need
`Authorization: Bearer <token>`; reads stay open.
"""


async def method_not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
    """405 whose ``Allow`` lists every method served at the path (Starlette names only the
    first route's, and GET and POST /optimization are two routes)."""
    methods = sorted(
        {
            method
            for route in request.app.routes
            if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
            for method in route.methods or ()
        }
    )
    return JSONResponse(
        {"detail": exc.detail}, status_code=405, headers={"Allow": ", ".join(methods)}
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Freeze the objects alive at startup (imported numba, pandas, vectorbt...) out of the
    garbage collector's reach: otherwise every full collection rescans them, stalling all
    requests for ~200 ms every few thousand requests."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def create_app(settings: Settings | None = None, config: ApiConfig | None = None) -> FastAPI:
    """The API over ``settings.data_dir`` (the environment's settings by default)."""
    settings = settings or load_settings()
    config = config or load_api_config()
    app = FastAPI(
        title="Maestro API",
        version="2.0.0",
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url=f"{API_PREFIX}/openapi.json",
        lifespan=lifespan,
    )
    app.state.context = ApiContext(settings=settings, config=config)
    app.add_exception_handler(405, method_not_allowed)
    # Added before CORS, so CORS (outermost) also wraps the answers of the fast path.
    app.state.bars_cache = BarsCache()
    app.add_middleware(BarsFastPath, cache=app.state.bars_cache, prefix=f"{API_PREFIX}/bars/")
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    api = APIRouter(prefix=API_PREFIX)
    routers = (
        health, meta, strategies, bars, studies, validation, submit, backtest, progress,
        leaderboard,
    )  # fmt: skip
    for module in routers:
        api.include_router(module.router)
    app.include_router(api)
    app.state.frontend = mount_frontend(app, config.frontend_dist)
    return app


app = create_app()
