"""Studies ranked across strategies, symbols and timeframes."""

from __future__ import annotations

from typing import Annotated

import polars as pl
from fastapi import APIRouter, Query

from api.context import Context
from api.errors import NotMaterialized
from api.models import Leaderboard, LeaderboardRow, VerdictName
from maestro_pipeline.keys import slug_symbol
from maestro_pipeline.storage.leaderboard import with_headline_columns

router = APIRouter(tags=["leaderboard"])


@router.get("/leaderboard", responses={404: {"description": "leaderboard not materialized"}})
def leaderboard(
    ctx: Context,
    strategy: Annotated[str | None, Query(description="only this strategy")] = None,
    symbol: Annotated[str | None, Query(description="only this symbol, e.g. BTC/USD")] = None,
    timeframe: Annotated[str | None, Query(description="only this timeframe")] = None,
    verdict: Annotated[
        list[VerdictName] | None,
        Query(description="only studies with this verdict (repeat for several)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many rows")] = 100,
) -> Leaderboard:
    """Published studies ranked by out-of-sample Sharpe, with their verdict, DSR, PBO and WF
    efficiency; ``?verdict=robust`` keeps the robust ones."""
    frame = ctx.reports.read_leaderboard()
    if frame is None:
        raise NotMaterialized("the leaderboard", "materialize the leaderboard asset in Dagster")
    frame = with_headline_columns(frame)
    if verdict:
        frame = frame.filter(pl.col("verdict").is_in(list(verdict)))
    if strategy is not None:
        frame = frame.filter(pl.col("strategy") == strategy)
    if symbol is not None:  # 'BTC/USD' or its slug 'BTC-USD'
        frame = frame.filter(pl.col("symbol").is_in([symbol, slug_symbol(symbol)]))
    if timeframe is not None:
        frame = frame.filter(pl.col("timeframe") == timeframe)
    rows = [LeaderboardRow.model_validate(row) for row in frame.head(limit).to_dicts()]
    return Leaderboard(count=len(rows), rows=rows)
