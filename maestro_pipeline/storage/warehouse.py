"""The ``ohlcv`` time-series table: the warehouse interface and its DuckDB implementation.

One table holds every exchange, symbol and timeframe. DuckDB (the embedded default) replaces a
month of one symbol in one transaction (delete its rows, insert the new ones), so re-running a
partition never duplicates rows and a failure leaves the previous rows in place. QuestDB, the
production store, implements the same interface in ``maestro_pipeline.storage.questdb``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import duckdb
import polars as pl

from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.storage.lake import month_bounds


class Warehouse(Protocol):
    """What the pipeline and its readers need from a time-series store of bars."""

    kind: str

    def replace_month(
        self, exchange: str, symbol: str, month: str, bars_by_timeframe: dict[str, pl.DataFrame]
    ) -> int:
        """Store one symbol-month at every timeframe; re-running it never duplicates rows."""
        ...

    def month_row_counts(self, exchange: str, symbol: str, month: str) -> dict[str, int]:
        """Rows per timeframe stored for one symbol-month."""
        ...

    def read_bars(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        """Bars of one series in [start, end), sorted by time."""
        ...

    def resample_bars(
        self,
        exchange: str,
        symbol: str,
        source_timeframe: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        """Coarser bars computed on read from a stored timeframe (labelled by open time)."""
        ...


OHLCV_TABLE = "ohlcv"

CREATE_OHLCV = f"""
CREATE TABLE IF NOT EXISTS {OHLCV_TABLE} (
    exchange  VARCHAR     NOT NULL,
    symbol    VARCHAR     NOT NULL,
    timeframe VARCHAR     NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    open      DOUBLE      NOT NULL,
    high      DOUBLE      NOT NULL,
    low       DOUBLE      NOT NULL,
    close     DOUBLE      NOT NULL,
    volume    DOUBLE      NOT NULL,
    PRIMARY KEY (exchange, symbol, timeframe, timestamp)
)
"""


def tagged_bars(
    exchange: str, symbol: str, bars_by_timeframe: dict[str, pl.DataFrame]
) -> pl.DataFrame | None:
    """One frame of a symbol-month's bars at every timeframe, with the series columns added."""
    frames = [
        frame.select(
            pl.lit(exchange).alias("exchange"),
            pl.lit(symbol).alias("symbol"),
            pl.lit(timeframe).alias("timeframe"),
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "volume",
        )
        for timeframe, frame in bars_by_timeframe.items()
        if frame.height
    ]
    return pl.concat(frames) if frames else None


def time_bounds(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) with open ends replaced by dates beyond any bar."""
    return start or datetime(1970, 1, 1, tzinfo=UTC), end or datetime(9999, 1, 1, tzinfo=UTC)


def _utc_ms(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("timestamp").dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
    )


class DuckDBWarehouse:
    """The warehouse on one open DuckDB connection (from dagster-duckdb's ``DuckDBResource``).

    Reads work on read-only connections; the first write creates the table.
    """

    kind = "duckdb"

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def ensure_schema(self) -> None:
        self.conn.execute("SET TimeZone = 'UTC'")
        self.conn.execute(CREATE_OHLCV)

    def replace_month(
        self, exchange: str, symbol: str, month: str, bars_by_timeframe: dict[str, pl.DataFrame]
    ) -> int:
        self.ensure_schema()
        start, end = month_bounds(month)
        incoming = tagged_bars(exchange, symbol, bars_by_timeframe)
        conn = self.conn
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(
                f"DELETE FROM {OHLCV_TABLE} WHERE exchange = ? AND symbol = ? "
                "AND timestamp >= ? AND timestamp < ?",
                [exchange, symbol, start, end],
            )
            if incoming is not None:
                conn.register("incoming_bars", incoming.to_arrow())
                conn.execute(f"INSERT INTO {OHLCV_TABLE} SELECT * FROM incoming_bars")
                conn.unregister("incoming_bars")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return 0 if incoming is None else incoming.height

    def month_row_counts(self, exchange: str, symbol: str, month: str) -> dict[str, int]:
        self.ensure_schema()
        start, end = month_bounds(month)
        rows = self.conn.execute(
            f"SELECT timeframe, count(*) FROM {OHLCV_TABLE} WHERE exchange = ? AND symbol = ? "
            "AND timestamp >= ? AND timestamp < ? GROUP BY timeframe",
            [exchange, symbol, start, end],
        ).fetchall()
        return {timeframe: int(count) for timeframe, count in rows}

    def read_bars(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        lower, upper = time_bounds(start, end)
        frame = self.conn.sql(
            f"SELECT timestamp, open, high, low, close, volume FROM {OHLCV_TABLE} "
            "WHERE exchange = ? AND symbol = ? AND timeframe = ? "
            "AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
            params=[exchange, symbol, timeframe, lower, upper],
        ).pl()
        return _utc_ms(frame)

    def resample_bars(
        self,
        exchange: str,
        symbol: str,
        source_timeframe: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        seconds = timeframe_ms(timeframe) // 1000
        lower, upper = time_bounds(start, end)
        # time_bucket's default origin is midnight UTC, so buckets that divide a day start at
        # bar open times; the width is an integer parameter, never text from the caller.
        frame = self.conn.sql(
            "SELECT time_bucket(to_seconds(?::BIGINT), timestamp) AS timestamp, "
            "arg_min(open, timestamp) AS open, max(high) AS high, min(low) AS low, "
            "arg_max(close, timestamp) AS close, sum(volume) AS volume "
            f"FROM {OHLCV_TABLE} WHERE exchange = ? AND symbol = ? AND timeframe = ? "
            "AND timestamp >= ? AND timestamp < ? GROUP BY 1 ORDER BY 1",
            params=[seconds, exchange, symbol, source_timeframe, lower, upper],
        ).pl()
        return _utc_ms(frame)
