"""OHLCV bars from the Parquet lake (never the warehouse: DuckDB admits no reader beside a
writer, and the lake's atomically replaced files can be read while Dagster materializes).

Answers are encoded once per version of the month files they read (api.bars_cache), gzip'd
for clients that accept it, and repeated requests are answered by api.fast_path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import numpy as np
import orjson
import polars as pl
from fastapi import APIRouter, Path, Query, Request, Response

from api.bars_cache import (
    BarsCache,
    BarsRead,
    accepts_gzip,
    entity_tag,
    etag_matches,
    not_modified_headers,
)
from api.context import ApiContext, Context
from api.errors import FieldError
from api.models import SYMBOL_SLUG_PATTERN, TIMEFRAME_PATTERN, Bars
from api.request_checks import bars_timeframe, checked_symbol, utc
from maestro_pipeline.keys import symbol_slug
from maestro_pipeline.storage.lake import month_range, month_stamps

MAX_BAR_ROWS = 50_000
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")

router = APIRouter(tags=["bars"])


def _missing_series(ctx: ApiContext, symbol: str, timeframe: str) -> FieldError:
    """404 naming the symbol (not in the lake at all) or the timeframe (not for this symbol)."""
    known = ctx.lake.symbols(ctx.exchange)
    if symbol not in known:
        listed = ", ".join(symbol_slug(s) for s in known) or "none (materialize market data)"
        return FieldError(
            404,
            "path",
            "symbol",
            f"no bars for symbol {symbol_slug(symbol)!r} in the lake; known symbols: {listed}",
        )
    return FieldError(
        404,
        "query",
        "timeframe",
        f"no {timeframe} bars for {symbol} in the lake (it holds "
        f"{', '.join(ctx.lake.timeframes(ctx.exchange, symbol))}): materialize the bars asset",
    )


def _serialize(
    frame: pl.DataFrame, symbol: str, timeframe: str, exchange: str, truncated: bool
) -> bytes:
    body: dict[str, object] = {
        "symbol": symbol,
        "timeframe": timeframe,
        "exchange": exchange,
        "count": frame.height,
        "truncated": truncated,
        "timestamp": frame.get_column("timestamp").dt.epoch("ms").to_numpy(),
    }
    for column in PRICE_COLUMNS:
        body[column] = np.ascontiguousarray(frame.get_column(column).to_numpy(), dtype=np.float64)
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def _read_bars(
    ctx: ApiContext,
    symbol: str,
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> bytes:
    frame = ctx.lake.read_bars(ctx.exchange, symbol, timeframe, start, end)
    if limit is None and frame.height > MAX_BAR_ROWS:
        raise FieldError(
            422,
            "query",
            "limit",
            f"the range holds {frame.height} bars, more than {MAX_BAR_ROWS} per request: "
            "narrow start/end or pass limit to get the latest bars",
        )
    truncated = limit is not None and frame.height > limit
    if truncated:
        frame = frame.tail(limit)
    return _serialize(frame, symbol, timeframe, ctx.exchange, truncated)


@router.get(
    "/bars/{symbol:path}",
    response_model=Bars,
    responses={
        304: {"description": "not modified: If-None-Match matched the ETag"},
        404: {"description": "no bars for this symbol or timeframe in the lake"},
        422: {
            "description": "malformed symbol, unknown timeframe, start not before end, "
            "too many rows"
        },
    },
)
async def get_bars(
    request: Request,
    ctx: Context,
    symbol: Annotated[
        str,
        Path(
            description="symbol slug such as BTC-USD (BTC/USD is accepted too)",
            json_schema_extra={"pattern": SYMBOL_SLUG_PATTERN},
        ),
    ],
    timeframe: Annotated[
        str,
        Query(
            description="bar timeframe, e.g. 1h", json_schema_extra={"pattern": TIMEFRAME_PATTERN}
        ),
    ] = "1h",
    start: Annotated[
        datetime | None, Query(description="first bar open time (inclusive), ISO 8601, UTC")
    ] = None,
    end: Annotated[
        datetime | None, Query(description="last bar open time (exclusive), ISO 8601, UTC")
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_BAR_ROWS, description="return only the latest `limit` bars of the range"
        ),
    ] = None,
) -> Response:
    """Clean OHLCV bars of one symbol and timeframe in [start, end), oldest first."""
    name = checked_symbol(symbol, "path")
    timeframe = bars_timeframe(timeframe, ctx.settings.all_timeframes, "query")
    start, end = utc(start, "query", "start"), utc(end, "query", "end")
    if start is not None and end is not None and start >= end:
        raise FieldError(
            422, "query", "start", f"start {start.isoformat()} must be before end {end.isoformat()}"
        )
    read = BarsRead(str(ctx.lake.root), ctx.exchange, name, timeframe, start, end, limit)
    folder = str(ctx.lake.series_dir("bars", ctx.exchange, name, timeframe))
    months = month_range(start, end)
    try:
        stamps = month_stamps(folder, *months)
    except FileNotFoundError:
        raise _missing_series(ctx, name, timeframe) from None
    cache: BarsCache = request.app.state.bars_cache
    entry = cache.current(read, folder, months, stamps)
    coding = "gzip" if accepts_gzip(request.headers.get("accept-encoding", "")) else "identity"
    # A repeat of this exact request is answered by the fast path (api.fast_path) from now on.
    cache.alias(request.scope["path"], request.scope["query_string"], read)
    etag = entity_tag(entry.tag, coding)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag_matches(if_none_match, etag):
        # The files' stamps identify the content: a revalidating client needs no read.
        response = Response(status_code=304)
        response.raw_headers = list(not_modified_headers(etag))
        return response
    variant = await cache.variant(
        entry, coding, lambda: _read_bars(ctx, name, timeframe, start, end, limit)
    )
    response = Response(content=variant.body, status_code=200)
    response.raw_headers = list(variant.headers)
    return response
