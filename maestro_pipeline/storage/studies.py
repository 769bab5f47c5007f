"""Published walk-forward study results: Parquet + JSON in the lake, tables in the warehouse.

Each study (strategy x symbol x timeframe) is published as a new version folder::

    {data_dir}/studies/strategy=ema_cross/symbol=BTC-USD/timeframe=1h/
        v-20191001T120000-ab12cd/{folds,equity,trades,trials,paths}.parquet, summary.json
        current.json  -> {"version": "v-20191001T120000-ab12cd", ...}

A version folder is complete before ``current.json`` is atomically replaced to point at it, so
readers (the API) always see one whole study, never a mix of two runs. Older versions beyond
``KEEP_VERSIONS`` are removed. ``paths`` holds every cpcv backtest path's equity (empty for a
walk-forward study; absent from versions published before it existed).
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl

from maestro_pipeline.engine.metrics import HEADLINE_METRICS, STUDY_STATISTICS, finite_or_none
from maestro_pipeline.engine.verdict import VERDICTS
from maestro_pipeline.keys import StudyKey, slug_symbol, symbol_slug
from maestro_pipeline.storage.files import atomic_write_bytes, atomic_write_parquet, json_bytes

STUDY_FRAMES = ("folds", "equity", "trades", "trials", "paths")
# Every study has these; ``paths`` may be missing (a version published before it existed).
REQUIRED_FRAMES = ("folds", "equity", "trades", "trials")
KEEP_VERSIONS = 3
POINTER = "current.json"
PROGRESS = "progress.json"


class StudyStore:
    """Publishes and reads study results under ``{data_dir}/studies``."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir) / "studies"

    def study_dir(self, key: StudyKey) -> Path:
        return (
            self.root
            / f"strategy={key.strategy}"
            / f"symbol={symbol_slug(key.symbol)}"
            / f"timeframe={key.timeframe}"
        )

    def publish(
        self, key: StudyKey, frames: dict[str, pl.DataFrame], summary: dict[str, Any]
    ) -> Path:
        """Write a new version of the study and point ``current.json`` at it."""
        missing = [name for name in REQUIRED_FRAMES if name not in frames]
        if missing:
            raise ValueError(f"study results lack {missing}")
        base = self.study_dir(key)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        version = f"v-{stamp}-{uuid.uuid4().hex[:6]}"
        staging = base / f".{version}.tmp"
        staging.mkdir(parents=True)
        try:
            for name in STUDY_FRAMES:
                if name in frames:
                    atomic_write_parquet(frames[name], staging / f"{name}.parquet")
            published = {**summary, "study_id": key.study_id, "version": version}
            atomic_write_bytes(json_bytes(published), staging / "summary.json")
            os.replace(staging, base / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        pointer = {"version": version, "published_at": datetime.now(UTC).isoformat()}
        atomic_write_bytes(json_bytes(pointer), base / POINTER)
        self._prune(base, keep=version)
        return base / version

    def _prune(self, base: Path, keep: str) -> None:
        versions = sorted(p for p in base.glob("v-*") if p.is_dir())
        for old in versions[:-KEEP_VERSIONS]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def current_dir(self, key: StudyKey) -> Path | None:
        pointer = self.study_dir(key) / POINTER
        if not pointer.exists():
            return None
        version = orjson.loads(pointer.read_bytes())["version"]
        return self.study_dir(key) / version

    def read_summary(self, key: StudyKey) -> dict[str, Any] | None:
        folder = self.current_dir(key)
        return None if folder is None else orjson.loads((folder / "summary.json").read_bytes())

    def read_frame(self, key: StudyKey, name: str) -> pl.DataFrame | None:
        """A frame of the current version; None when the study is not published, or when an
        optional frame (``paths``) is not in its version. A version removed while being read
        raises FileNotFoundError."""
        if name not in STUDY_FRAMES:
            raise ValueError(f"unknown study frame {name!r}; one of {STUDY_FRAMES}")
        folder = self.current_dir(key)
        if folder is None:
            return None
        path = folder / f"{name}.parquet"
        if name not in REQUIRED_FRAMES and folder.is_dir() and not path.exists():
            return None
        return pl.read_parquet(path)

    def write_progress(self, key: StudyKey, progress: dict[str, Any]) -> None:
        """Live state of a running study (status, fold, trials, best value) for watchers."""
        stamped = {**progress, "study_id": key.study_id, "updated_at": datetime.now(UTC)}
        atomic_write_bytes(json_bytes(stamped), self.study_dir(key) / PROGRESS)

    def read_progress(self, key: StudyKey) -> dict[str, Any] | None:
        path = self.study_dir(key) / PROGRESS
        return orjson.loads(path.read_bytes()) if path.exists() else None

    def published_keys(self) -> list[StudyKey]:
        """Studies with a published version."""
        return self._keys_with(POINTER)

    def progress_keys(self) -> list[StudyKey]:
        """Studies with a progress file: running, failed or finished."""
        return self._keys_with(PROGRESS)

    def _keys_with(self, file_name: str) -> list[StudyKey]:
        keys = []
        for path in sorted(self.root.glob(f"strategy=*/symbol=*/timeframe=*/{file_name}")):
            strategy, slug, timeframe = (p.name.split("=", 1)[1] for p in path.parents[2::-1])
            try:
                keys.append(StudyKey(strategy, slug_symbol(slug), timeframe))
            except ValueError:  # a folder someone else made; not a study of ours
                continue
        return keys


# A study's headline: its verdict, OOS figures and selection statistics. The warehouse summary
# row, the leaderboard, the API's /meta and the chart UI all take their columns from here.
# Text columns, with the values they may hold; every other headline column is a number.
HEADLINE_TEXT: dict[str, tuple[str, ...]] = {"verdict": VERDICTS}
HEADLINE_COLUMNS = (
    *HEADLINE_TEXT,
    *(f"oos_{name}" for name in HEADLINE_METRICS),
    *STUDY_STATISTICS,
)
# (label, format) of the headline columns that are not engine metrics.
HEADLINE_DISPLAY: dict[str, tuple[str, str]] = {"verdict": ("Verdict", "text")}


def headline_dtype(column: str) -> pl.DataType:
    """The column's type in the summary row and the leaderboard."""
    return pl.String() if column in HEADLINE_TEXT else pl.Float64()


def headline_figures(summary: dict[str, Any]) -> dict[str, float | str | None]:
    """A study's headline (``HEADLINE_COLUMNS``), as the summary row and leaderboard hold it:
    the verdict, OOS metrics and statistics; missing, unknown or non-finite values are None."""
    oos = summary.get("oos", summary)
    figures: dict[str, float | str | None] = {
        name: summary.get(name) if summary.get(name) in allowed else None
        for name, allowed in HEADLINE_TEXT.items()
    }
    figures.update({f"oos_{name}": finite_or_none(oos.get(name)) for name in HEADLINE_METRICS})
    figures.update({name: finite_or_none(summary.get(name)) for name in STUDY_STATISTICS})
    return figures


def summary_row(key: StudyKey, summary: dict[str, Any]) -> pl.DataFrame:
    """One warehouse row per study: headline figures as columns, the rest as JSON."""
    row: dict[str, Any] = {
        "study_id": key.study_id,
        "updated_at": datetime.now(UTC),
        **headline_figures(summary),
        "n_trials_total": int(summary.get("n_trials_total") or 0),
        "summary_json": orjson.dumps(summary, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
    }
    schema = {name: headline_dtype(name) for name in HEADLINE_COLUMNS}
    return pl.DataFrame([row], schema_overrides=schema)


STUDY_TABLES = {
    "summary": "study_summary",
    "folds": "study_folds",
    "equity": "study_equity",
    "trades": "study_trades",
    "paths": "study_paths",
}


def replace_study_rows(
    conn: duckdb.DuckDBPyConnection, key: StudyKey, frames: dict[str, pl.DataFrame]
) -> dict[str, int]:
    """Replace one study's rows in every study table given, in one transaction. Columns a
    table lacks (added to the results since it was created) are added to it first."""
    keyed = {
        STUDY_TABLES[name]: frame.with_columns(
            pl.lit(key.strategy).alias("strategy"),
            pl.lit(key.symbol).alias("symbol"),
            pl.lit(key.timeframe).alias("timeframe"),
        )
        for name, frame in frames.items()
        if name in STUDY_TABLES
    }
    counts: dict[str, int] = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for table, frame in keyed.items():
            conn.register("incoming_rows", frame.to_arrow())
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM incoming_rows LIMIT 0"
            )
            _add_missing_columns(conn, table, "incoming_rows")
            conn.execute(
                f"DELETE FROM {table} WHERE strategy = ? AND symbol = ? AND timeframe = ?",
                [key.strategy, key.symbol, key.timeframe],
            )
            # By name, so a column order change between versions cannot shift values.
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
            conn.unregister("incoming_rows")
            counts[table] = frame.height
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts


def _add_missing_columns(conn: duckdb.DuckDBPyConnection, table: str, incoming: str) -> None:
    have = {row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall()}
    for name, kind, *_ in conn.execute(f"DESCRIBE {incoming}").fetchall():
        if name not in have:
            quoted = '"' + name.replace('"', '""') + '"'
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {quoted} {kind}")


def count_study_rows(conn: duckdb.DuckDBPyConnection, key: StudyKey) -> dict[str, int]:
    """Rows of one study per study table (0 for a table not created yet)."""
    tables = {row[0] for row in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    counts = {}
    for table in STUDY_TABLES.values():
        if table not in tables:
            counts[table] = 0
            continue
        counts[table] = conn.execute(
            f"SELECT count(*) FROM {table} WHERE strategy = ? AND symbol = ? AND timeframe = ?",
            [key.strategy, key.symbol, key.timeframe],
        ).fetchone()[0]
    return counts
