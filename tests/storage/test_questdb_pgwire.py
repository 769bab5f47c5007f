"""The QuestDB store's PostgreSQL-wire reads, checked on the wire against a real PostgreSQL.

No QuestDB server runs here. QuestDB 8 rejects a timestamp bound as binary ``timestamptz`` (what
psycopg sends for an aware datetime) and closes the connection; QuestDB 9 accepts it. The store
binds naive UTC timestamps in text format, which both read. PostgreSQL speaks the same protocol:
libpq's trace shows each parameter's type and format as sent, and reading a table of the same
shape through the store's own read code checks that the bounds keep their meaning.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg import pq

from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.settings import load_settings
from maestro_pipeline.storage.questdb import QuestDBConfig, QuestDBWarehouse
from tests.support.servers import ServerUnavailable, postgres_server

TIMESTAMP_OID, TIMESTAMPTZ_OID = 1114, 1184
FEBRUARY, MAY = datetime(2018, 2, 1, tzinfo=UTC), datetime(2018, 5, 1, tzinfo=UTC)
MARCH = (datetime(2018, 3, 1, tzinfo=UTC), datetime(2018, 4, 1, tzinfo=UTC))


def _between(bars: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    return bars.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """Conninfo of a fresh PostgreSQL database."""
    try:
        with postgres_server("qdb") as url:
            yield url.replace("postgresql+psycopg://", "postgresql://")
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


def _load_ohlcv(conn: psycopg.Connection, bars: pl.DataFrame) -> None:
    """An ``ohlcv`` table shaped like QuestDB's (``timestamp`` without zone, in UTC)."""
    conn.execute(
        "CREATE TABLE ohlcv (exchange text, symbol text, timeframe text, open float8, "
        "high float8, low float8, close float8, volume float8, timestamp timestamp)"
    )
    rows = bars.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    with conn.cursor().copy(
        "COPY ohlcv (exchange, symbol, timeframe, open, high, low, close, volume, timestamp) "
        "FROM STDIN"
    ) as copy:
        for row in rows.iter_rows(named=True):
            copy.write_row(
                ("sample", "BTC/USD", "30m", row["open"], row["high"], row["low"], row["close"],
                 row["volume"], row["timestamp"])
            )  # fmt: skip


def _traced(conn: psycopg.Connection, read) -> tuple[object, list[str]]:
    """``read()``'s result and the messages libpq sent meanwhile (Parse, Bind...)."""
    fd, name = tempfile.mkstemp(suffix=".trace")
    try:
        conn.pgconn.trace(fd)
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            result = read()
        finally:
            conn.pgconn.untrace()
        sent = [line for line in Path(name).read_text().splitlines() if line.startswith("F")]
    finally:
        os.close(fd)
        os.unlink(name)
    return result, sent


def _parse_oids(line: str) -> list[int]:
    """Parameter type OIDs of a traced Parse: ``F <len> Parse "" "<sql>" <n> <oid>...``."""
    words = line[line.rindex('"') + 1 :].split()
    return [int(w) for w in words[1 : 1 + int(words[0])]]


def _bind_formats(line: str) -> list[int]:
    """Parameter formats of a traced Bind (0 text, 1 binary): ``... Bind "" "" <n> <fmt>...``."""
    words = line.split('"" ""', 1)[1].split()
    return [int(w) for w in words[1 : 1 + int(words[0])]]


def test_time_bounds_travel_as_text_timestamps_and_keep_their_meaning(postgres, btc_30m):
    with psycopg.connect(postgres, autocommit=True) as conn:
        # February to April: a shifted bound would take rows from the months around March.
        _load_ohlcv(conn, _between(btc_30m, FEBRUARY, MAY))
        # A session zone far from UTC: a bound sent as timestamptz would shift by 13:45.
        conn.execute("SET TIME ZONE 'Pacific/Chatham'")
        store = QuestDBWarehouse(QuestDBConfig(), conn=conn)
        got, sent = _traced(conn, lambda: store.read_bars("sample", "BTC/USD", "30m", *MARCH))

    expected = _between(btc_30m, *MARCH)
    assert expected.height > 1400  # the sample misses a bar in March
    assert got.equals(expected)
    parse = next(line for line in sent if "\tParse\t" in line)
    bind = next(line for line in sent if "\tBind\t" in line)
    oids = _parse_oids(parse)
    assert oids[-2:] == [TIMESTAMP_OID, TIMESTAMP_OID] and TIMESTAMPTZ_OID not in oids
    assert set(_bind_formats(bind)) == {0}  # every parameter in text format
    assert "'2018-03-01 00:00:00'" in bind and "'2018-04-01 00:00:00'" in bind


def test_open_ended_reads_bind_text_bounds_too(postgres, btc_30m):
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS open_ended")
        conn.execute("SET search_path TO open_ended")
        _load_ohlcv(conn, btc_30m.head(100))
        store = QuestDBWarehouse(QuestDBConfig(), conn=conn)
        got, sent = _traced(conn, lambda: store.read_bars("sample", "BTC/USD", "30m"))
    assert got.equals(btc_30m.head(100))
    bind = next(line for line in sent if "\tBind\t" in line)
    assert set(_bind_formats(bind)) == {0}
    assert "'1970-01-01 00:00:00'" in bind and "'9999-01-01 00:00:00'" in bind


def test_pg_wire_user_and_password_come_from_the_environment(postgres):
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("CREATE ROLE chart_reader LOGIN PASSWORD 'reader-secret'")
        port = conn.info.port
    settings = load_settings(
        {
            "MAESTRO_QUESTDB_PG_PORT": str(port),
            "MAESTRO_QUESTDB_PG_USER": "chart_reader",
            "MAESTRO_QUESTDB_PG_PASSWORD": "reader-secret",
        }
    )
    config = build_resources(settings)["warehouse"].questdb.config()
    assert (config.pg_user, config.pg_password) == ("chart_reader", "reader-secret")
    assert (config.username, config.password) == (None, None)  # ILP credentials stay apart
    with psycopg.connect(config.pg_conninfo) as conn:  # QuestDB's database name, qdb
        assert conn.execute("SELECT current_user").fetchone() == ("chart_reader",)
    defaults = build_resources(load_settings({}))["warehouse"].questdb.config()
    assert (defaults.pg_user, defaults.pg_password) == ("admin", "quest")
