"""A single backtest on published bars, computed in the API process.

A study is hours of CPU and goes through Dagster (``POST /optimization``); one backtest of one
parameter set is a small synchronous computation on bars the pipeline already published (a
year of hourly bars: milliseconds on v2, a fraction of a second on v1). It reads the lake
only and writes nothing, so it runs here, where its answer is wanted, instead of paying for
a Dagster run and an artifact nobody keeps. It still spends CPU, so it needs the write token
like every endpoint that starts work, and the bars it may read are bounded
(``MAX_BACKTEST_BARS``). The engine's libraries load on the first request, not at startup.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from api.backtest_models import BacktestRequest, BacktestRun
from api.context import ApiContext, Context, WriteAccess
from api.errors import FieldError
from api.request_checks import bars_timeframe, checked_symbol, runnable_strategy, utc
from maestro_pipeline.engine.metrics import finite_or_none
from maestro_pipeline.keys import UnknownSymbolError

router = APIRouter(tags=["backtest"])

# At most this many bars per request: v1 simulates ~20 µs per bar (a few seconds here).
MAX_BACKTEST_BARS = 200_000


def _bars(ctx: ApiContext, request: BacktestRequest) -> tuple[str, Any]:
    """The request's bars from the lake; 4xx naming the field when there are none to test."""
    symbol = checked_symbol(request.symbol, "body")
    bars_timeframe(request.timeframe, ctx.settings.all_timeframes, "body")
    start, end = utc(request.start, "body", "start"), utc(request.end, "body", "end")
    if start is not None and end is not None and start >= end:
        raise FieldError(422, "body", "end", f"end {end} is not after start {start}")
    try:
        bars = ctx.lake.read_bars(ctx.exchange, symbol, request.timeframe, start, end)
    except UnknownSymbolError as exc:
        raise FieldError(404, "body", "symbol", str(exc)) from None
    if bars.height < 2:
        raise FieldError(
            404, "body", "start",
            f"{bars.height} {request.timeframe} bars of {symbol} in that range: a backtest "
            "needs at least 2 (materialize the bars, or widen start/end)",
        )  # fmt: skip
    if bars.height > MAX_BACKTEST_BARS:
        raise FieldError(
            422, "body", "start",
            f"the range holds {bars.height} bars, more than {MAX_BACKTEST_BARS} per backtest: "
            "narrow start/end or use a coarser timeframe",
        )  # fmt: skip
    return symbol, bars


@router.post(
    "/backtest",
    dependencies=[WriteAccess],
    responses={
        400: {"description": "the body is not valid JSON"},
        401: {"description": "MAESTRO_API_TOKEN is set and the bearer token is missing or wrong"},
        404: {"description": "no bars for that symbol, timeframe or range (the field is named)"},
        422: {"description": "malformed request, unknown strategy, bad parameter or setting, "
              "or a setting the engine cannot express (the field is named)"},
    },
)  # fmt: skip
def run_backtest(ctx: Context, request: BacktestRequest) -> BacktestRun:
    """Backtest one parameter set of a strategy on the lake's bars, on engine v2 or v1."""
    # The engine (numba, vectorbt or Backtrader, pandas) loads with the first backtest.
    from maestro_pipeline.engine.backtest.settings import BacktestSettings, SettingsError
    from maestro_pipeline.engine.engines import backtest
    from maestro_pipeline.engine.strategy import ParameterError, StrategyError

    strategy = runnable_strategy(request.strategy)
    given = request.settings.model_dump()
    try:
        settings = BacktestSettings(**given)
    except SettingsError as exc:
        raise FieldError(422, "body", exc.setting, str(exc)) from None
    try:
        params = strategy.validate(request.params)
    except ParameterError as exc:
        raise FieldError(422, "body", exc.parameter, str(exc)) from None
    symbol, bars = _bars(ctx, request)
    started = time.perf_counter()
    try:
        result = backtest(bars, strategy, params, settings, request.engine_version)
    except SettingsError as exc:  # a setting this engine cannot express
        raise FieldError(422, "body", exc.setting, str(exc)) from None
    except StrategyError as exc:
        raise FieldError(422, "body", "strategy", str(exc)) from None
    seconds = time.perf_counter() - started
    trades = result.trades.astype({"side": str, "status": str}).to_dict("records")
    return BacktestRun.model_validate(
        {
            "strategy": strategy.name,
            "symbol": symbol,
            "timeframe": request.timeframe,
            "engine_version": request.engine_version,
            "params": result.params,
            "settings": asdict(settings),
            "bars": bars.height,
            "start": result.equity.index[0].to_pydatetime(),
            "end": result.equity.index[-1].to_pydatetime(),
            "metrics": {k: finite_or_none(v) for k, v in result.metrics.items()},
            "trade_count": int(result.metrics["trade_count"]),
            "trades": [{k: _json_value(v) for k, v in t.items()} for t in trades],
            "seconds": seconds,
        }
    )


def _json_value(value: Any) -> Any:
    """A trade's field for JSON: NaT as null, timestamps as datetimes, non-finite floats null."""
    if hasattr(value, "to_pydatetime"):
        return None if value != value else value.to_pydatetime()
    return finite_or_none(value) if isinstance(value, float) else value
