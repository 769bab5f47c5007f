"""Bar hygiene: turn raw exchange rows into clean OHLCV bars and resample them.

Bars everywhere in Maestro are a polars frame with the columns of ``BAR_SCHEMA``:
``timestamp`` is the bar's *open* time in UTC (millisecond precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from maestro_pipeline.engine.timeframes import timeframe_ms

BAR_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": pl.Datetime("ms", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}
PRICE_COLUMNS = ("open", "high", "low", "close")


def timeframe_to_polars(timeframe: str) -> str:
    """The polars duration string of a timeframe ('30m' -> '30m', '1h' -> '1h')."""
    timeframe_ms(timeframe)
    return timeframe[:-1] + {"m": "m", "h": "h", "d": "d", "w": "w"}[timeframe[-1]]


@dataclass(frozen=True)
class CleaningReport:
    """What cleaning found in one batch of raw rows."""

    raw_rows: int
    kept_rows: int
    duplicate_rows: int
    invalid_rows: int
    misaligned_rows: int

    @property
    def rejected_rows(self) -> int:
        return self.invalid_rows + self.misaligned_rows


def raw_to_frame(raw: pl.DataFrame) -> pl.DataFrame:
    """Coerce raw rows (epoch-ms or datetime timestamps, numeric or string prices) to BAR_SCHEMA.

    Values that cannot be read become nulls, so that cleaning counts them as invalid
    instead of failing the whole download.
    """
    missing = [c for c in BAR_SCHEMA if c not in raw.columns]
    if missing:
        raise ValueError(f"raw OHLCV rows lack the column(s) {missing}")
    ts = pl.col("timestamp")
    if raw.schema["timestamp"].is_integer():
        ts_expr = pl.from_epoch(ts, time_unit="ms").dt.replace_time_zone("UTC")
    elif isinstance(raw.schema["timestamp"], pl.Datetime):
        dtype = raw.schema["timestamp"]
        ts_expr = ts if dtype.time_zone else ts.dt.replace_time_zone("UTC")
        ts_expr = ts_expr.dt.convert_time_zone("UTC")
    else:
        raise ValueError(
            f"raw column 'timestamp' has type {raw.schema['timestamp']}; "
            "expected epoch milliseconds or a datetime"
        )
    return raw.select(
        ts_expr.dt.cast_time_unit("ms").alias("timestamp"),
        *[
            pl.col(c).cast(pl.Float64, strict=False)
            for c in ("open", "high", "low", "close", "volume")
        ],
    )


def valid_bar_mask() -> pl.Expr:
    """True for rows whose fields are present, finite, positive and OHLC-consistent."""
    fields_ok = (
        pl.all_horizontal(
            [pl.col(c).is_not_null() & pl.col(c).is_finite() for c in (*PRICE_COLUMNS, "volume")]
        )
        & pl.col("timestamp").is_not_null()
    )
    prices_positive = pl.all_horizontal([pl.col(c) > 0 for c in PRICE_COLUMNS])
    bounds_ok = (
        (pl.col("high") >= pl.max_horizontal("open", "close", "low"))
        & (pl.col("low") <= pl.min_horizontal("open", "close", "high"))
        & (pl.col("volume") >= 0)
    )
    return (fields_ok & prices_positive & bounds_ok).fill_null(False)


def clean_bars(raw: pl.DataFrame, timeframe: str) -> tuple[pl.DataFrame, CleaningReport]:
    """UTC, OHLC-valid, aligned to the timeframe grid, de-duplicated (last row wins), sorted."""
    step = timeframe_ms(timeframe)
    frame = raw_to_frame(raw)
    valid = frame.filter(valid_bar_mask())
    invalid = frame.height - valid.height
    aligned = valid.filter(pl.col("timestamp").dt.epoch("ms") % step == 0)
    misaligned = valid.height - aligned.height
    # Exchanges re-send the still-open last bar on the next page; the later copy is the final one.
    deduped = aligned.unique(subset="timestamp", keep="last", maintain_order=True).sort("timestamp")
    report = CleaningReport(
        raw_rows=raw.height,
        kept_rows=deduped.height,
        duplicate_rows=aligned.height - deduped.height,
        invalid_rows=invalid,
        misaligned_rows=misaligned,
    )
    return deduped, report


def resample_bars(bars: pl.DataFrame, timeframe: str) -> pl.DataFrame:
    """Aggregate clean bars to a coarser timeframe, labelled by bar-open time (UTC).

    open=first, high=max, low=min, close=last, volume=sum; windows with no source bars
    produce no row (a gap stays a gap).
    """
    timeframe_ms(timeframe)
    if bars.is_empty():
        return bars.clear()
    return (
        bars.sort("timestamp")
        .group_by_dynamic(
            "timestamp", every=timeframe_to_polars(timeframe), closed="left", label="left"
        )
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
        .select(list(BAR_SCHEMA))
    )


@dataclass(frozen=True)
class GapReport:
    """Missing bar slots between the first and the last bar of a frame."""

    expected_bars: int
    missing_bars: int
    gaps: list[tuple[str, str, int]]  # (after bar, next bar, slots missing)

    @property
    def gap_ratio(self) -> float:
        return self.missing_bars / self.expected_bars if self.expected_bars else 0.0


def find_gaps(bars: pl.DataFrame, timeframe: str, max_listed: int = 20) -> GapReport:
    """Find runs of missing bars on the timeframe grid of sorted, de-duplicated bars."""
    step = timeframe_ms(timeframe)
    if bars.height < 2:
        return GapReport(expected_bars=bars.height, missing_bars=0, gaps=[])
    ms = bars.get_column("timestamp").dt.epoch("ms")
    span = int(ms[-1] - ms[0])
    expected = span // step + 1
    deltas = bars.select(
        pl.col("timestamp").alias("after"),
        pl.col("timestamp").shift(-1).alias("next"),
        (pl.col("timestamp").dt.epoch("ms").diff().shift(-1) // step - 1).alias("missing"),
    ).filter(pl.col("missing") > 0)
    listed = [
        (str(row["after"]), str(row["next"]), int(row["missing"]))
        for row in deltas.head(max_listed).iter_rows(named=True)
    ]
    return GapReport(
        expected_bars=expected, missing_bars=int(deltas["missing"].sum() or 0), gaps=listed
    )
