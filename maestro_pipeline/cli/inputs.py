"""Loading bars for CLI commands: from a Parquet file or from the lake by symbol."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer

from maestro_pipeline.engine.bars import BAR_SCHEMA, clean_bars, resample_bars
from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.settings import load_settings


def _infer_timeframe_ms(frame: pl.DataFrame) -> int:
    deltas = frame.get_column("timestamp").dt.epoch("ms").diff().drop_nulls()
    if deltas.is_empty():
        raise typer.BadParameter("the bars file holds fewer than two bars")
    return int(deltas.min())


def load_bars(data: Path | None, symbol: str | None, timeframe: str) -> pl.DataFrame:
    """Clean bars at ``timeframe`` from ``--data FILE`` (resampled if finer) or ``--symbol``."""
    try:
        step = timeframe_ms(timeframe)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--timeframe") from exc
    if (data is None) == (symbol is None):
        raise typer.BadParameter("give exactly one of --data FILE or --symbol SYMBOL")
    if symbol is not None:
        settings = load_settings()
        try:
            return settings.lake.read_bars(settings.lake_exchange, symbol, timeframe)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--symbol") from exc
    assert data is not None
    if not data.is_file():
        raise typer.BadParameter(f"no such file: {data}", param_hint="--data")
    raw = pl.read_parquet(data)
    missing = [c for c in BAR_SCHEMA if c not in raw.columns]
    if missing:
        raise typer.BadParameter(f"{data} lacks the column(s) {missing}", param_hint="--data")
    bars, _ = clean_bars(raw.select(list(BAR_SCHEMA)), "1m")
    source_step = _infer_timeframe_ms(bars)
    if source_step > step:
        raise typer.BadParameter(
            f"{data} holds bars of {source_step // 60_000} minutes, coarser than {timeframe}",
            param_hint="--timeframe",
        )
    return bars if source_step == step else resample_bars(bars, timeframe)


def load_study_bars(source: dict[str, object]) -> pl.DataFrame:
    """The bars a stored walk-forward study was made on, from the source it recorded."""
    timeframe = str(source.get("timeframe") or "")
    if "data" in source:
        return load_bars(Path(str(source["data"])), None, timeframe)
    if "symbol" in source:
        settings = load_settings()
        exchange = str(source.get("exchange") or settings.lake_exchange)
        return settings.lake.read_bars(exchange, str(source["symbol"]), timeframe)
    raise ValueError(f"the study records no bars to load (source {source!r})")
