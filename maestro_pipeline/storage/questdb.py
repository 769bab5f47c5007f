"""The ``ohlcv`` table in QuestDB, the production time-series store.

Writes go through the official ``questdb`` client over ILP/HTTP (port 9000); reads through the
PostgreSQL wire protocol (port 8812) with ``psycopg``, parameterized. The table is a WAL table
with ``DEDUP UPSERT KEYS``, so re-sending a month replaces its rows instead of duplicating them.
WAL tables apply commits asynchronously: after a write we wait until the table's writer has
caught up with the sequencer (``wal_tables()``), so a read that follows sees the write.

Timestamps are bound as naive UTC in text format (``%t``): psycopg sends an aware datetime as a
binary ``timestamptz``, which QuestDB 9 reads but QuestDB 8 rejects ("invalid str bind variable
type") before closing the connection; the text of a plain ``timestamp`` reads alike in both.

Unlike DuckDB there is no row delete here: a bar that vanished from a re-downloaded month
(rejected as invalid the second time) stays in QuestDB until its partition is rebuilt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import psycopg

from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.storage.lake import month_bounds
from maestro_pipeline.storage.warehouse import OHLCV_TABLE, tagged_bars, time_bounds

CREATE_OHLCV = f"""
CREATE TABLE IF NOT EXISTS {OHLCV_TABLE} (
    exchange SYMBOL,
    symbol SYMBOL,
    timeframe SYMBOL,
    open DOUBLE,
    high DOUBLE,
    low DOUBLE,
    close DOUBLE,
    volume DOUBLE,
    timestamp TIMESTAMP
) TIMESTAMP(timestamp) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(timestamp, exchange, symbol, timeframe)
"""

_SAMPLE_UNITS = {"m": "m", "h": "h", "d": "d"}


def sample_by_interval(timeframe: str) -> str:
    """QuestDB ``SAMPLE BY`` literal ('4h', '30m', '1d') of a validated timeframe."""
    timeframe_ms(timeframe)
    unit = timeframe[-1]
    if unit not in _SAMPLE_UNITS:
        raise ValueError(f"timeframe {timeframe!r} cannot be sampled by QuestDB here")
    return f"{int(timeframe[:-1])}{_SAMPLE_UNITS[unit]}"


def pg_timestamp(moment: datetime) -> datetime:
    """A time bound for a PG-wire query: naive UTC, bound with ``%t`` so it travels as text."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class QuestDBConfig:
    """Where QuestDB listens and how to log in."""

    host: str = "127.0.0.1"
    http_port: int = 9000
    pg_port: int = 8812
    username: str | None = None
    password: str | None = None
    pg_user: str = "admin"
    pg_password: str = "quest"
    wal_timeout_seconds: float = 30.0

    @property
    def ilp_conf(self) -> str:
        auth = (
            f"username={self.username};password={self.password};"
            if self.username and self.password
            else ""
        )
        return f"http::addr={self.host}:{self.http_port};{auth}"

    @property
    def pg_conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.pg_port,
            user=self.pg_user,
            password=self.pg_password,
            dbname="qdb",
        )


def send_bars_ilp(
    ilp_conf: str, exchange: str, symbol: str, bars_by_timeframe: dict[str, pl.DataFrame]
) -> int:
    """Send bars to the ``ohlcv`` table over ILP/HTTP in one request; returns rows sent."""
    from questdb import Sender

    tagged = tagged_bars(exchange, symbol, bars_by_timeframe)
    if tagged is None:
        return 0
    # The client takes nanosecond timestamps only.
    rows = tagged.with_columns(pl.col("timestamp").dt.cast_time_unit("ns")).to_pandas()
    for column in ("exchange", "symbol", "timeframe"):
        rows[column] = rows[column].astype("category")
    with Sender.from_conf(ilp_conf) as sender:
        sender.dataframe(
            rows,
            table_name=OHLCV_TABLE,
            symbols=["exchange", "symbol", "timeframe"],
            at="timestamp",
        )
        sender.flush()
    return len(rows)


class QuestDBWarehouse:
    """The warehouse on a QuestDB server."""

    kind = "questdb"

    def __init__(self, config: QuestDBConfig, conn: psycopg.Connection | None = None) -> None:
        """Connects and creates the table; or reads over ``conn``, whose table exists already."""
        self.config = config
        if conn is not None:
            self.conn = conn
            return
        self.conn = psycopg.connect(config.pg_conninfo, autocommit=True)
        self.conn.execute(CREATE_OHLCV)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> QuestDBWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def wait_for_wal(self) -> None:
        """Block until every committed WAL transaction of the table is applied."""
        deadline = time.monotonic() + self.config.wal_timeout_seconds
        while True:
            rows = self._query(
                "SELECT suspended, writerTxn, sequencerTxn FROM wal_tables() WHERE name = %s",
                (OHLCV_TABLE,),
            )
            if rows:
                suspended, writer_txn, sequencer_txn = rows[0]
                if suspended:
                    raise RuntimeError(f"QuestDB suspended WAL apply for table {OHLCV_TABLE}")
                if writer_txn >= sequencer_txn:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"QuestDB did not apply the WAL of {OHLCV_TABLE} within "
                    f"{self.config.wal_timeout_seconds} s"
                )
            time.sleep(0.05)

    def replace_month(
        self, exchange: str, symbol: str, month: str, bars_by_timeframe: dict[str, pl.DataFrame]
    ) -> int:
        written = send_bars_ilp(self.config.ilp_conf, exchange, symbol, bars_by_timeframe)
        if written:
            self.wait_for_wal()
        return written

    def month_row_counts(self, exchange: str, symbol: str, month: str) -> dict[str, int]:
        start, end = month_bounds(month)
        rows = self._query(
            f"SELECT timeframe, count() FROM {OHLCV_TABLE} WHERE exchange = %s AND symbol = %s "
            "AND timestamp >= %t AND timestamp < %t GROUP BY timeframe",
            (exchange, symbol, pg_timestamp(start), pg_timestamp(end)),
        )
        return {timeframe: int(count) for timeframe, count in rows}

    def _frame(self, rows: list[tuple]) -> pl.DataFrame:
        frame = pl.DataFrame(
            rows,
            schema=["timestamp", "open", "high", "low", "close", "volume"],
            orient="row",
        )
        if frame.is_empty():
            return frame.with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
        stamps = pl.col("timestamp")
        if frame.schema["timestamp"].time_zone is None:  # type: ignore[union-attr]
            stamps = stamps.dt.replace_time_zone("UTC")
        return frame.with_columns(
            stamps.dt.convert_time_zone("UTC").dt.cast_time_unit("ms").alias("timestamp")
        )

    def read_bars(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        lower, upper = time_bounds(start, end)
        rows = self._query(
            f"SELECT timestamp, open, high, low, close, volume FROM {OHLCV_TABLE} "
            "WHERE exchange = %s AND symbol = %s AND timeframe = %s "
            "AND timestamp >= %t AND timestamp < %t ORDER BY timestamp",
            (exchange, symbol, timeframe, pg_timestamp(lower), pg_timestamp(upper)),
        )
        return self._frame(rows)

    def resample_bars(
        self,
        exchange: str,
        symbol: str,
        source_timeframe: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        lower, upper = time_bounds(start, end)
        # SAMPLE BY takes a literal, built from a validated timeframe, never from free text.
        interval = sample_by_interval(timeframe)
        rows = self._query(
            f"SELECT timestamp, first(open), max(high), min(low), last(close), sum(volume) "
            f"FROM {OHLCV_TABLE} WHERE exchange = %s AND symbol = %s AND timeframe = %s "
            f"AND timestamp >= %t AND timestamp < %t "
            f"SAMPLE BY {interval} ALIGN TO CALENDAR TIME ZONE 'UTC' ORDER BY timestamp",
            (exchange, symbol, source_timeframe, pg_timestamp(lower), pg_timestamp(upper)),
        )
        return self._frame(rows)
