"""The Parquet lake: one file per (dataset, exchange, symbol, timeframe, month).

Layout (hive-style folders, readable by DuckDB, polars, Spark alike)::

    {root}/{dataset}/exchange={exchange}/symbol={BTC-USD}/timeframe={1h}/{2019-01}.parquet

Every write goes to a temporary file in the target folder and is renamed into place, so a
reader sees the old file or the new one, never half of one, and a failed write loses nothing.
Reads open each file once (``read_parquet_file``): polars, given paths, may open a file again
after reading its footer, and a file replaced in between then reads as the old footer over the
new pages ("File out of specification", seen under load) instead of as one version.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from maestro_pipeline.engine.bars import BAR_SCHEMA
from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.keys import UnknownSymbolError, month_key, slug_symbol, symbol_slug
from maestro_pipeline.storage.files import atomic_write_parquet, read_parquet_file

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
_MONTH_RE = re.compile(r"^\d{4}-\d{2}$")


def _checked_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"invalid {kind} {value!r}")
    return value


def month_bounds_ms(month: str) -> tuple[int, int]:
    """[start, end) of a 'YYYY-MM' month in epoch milliseconds, UTC."""
    year, mon = (int(p) for p in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a 'YYYY-MM' month as UTC datetimes."""
    start_ms, end_ms = month_bounds_ms(month)
    return (
        datetime.fromtimestamp(start_ms / 1000, UTC),
        datetime.fromtimestamp(end_ms / 1000, UTC),
    )


class Lake:
    """Paths, atomic writes and fast reads over the Parquet lake rooted at ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def under(cls, data_dir: Path | str) -> Lake:
        """The lake of a Maestro data directory."""
        return cls(Path(data_dir) / "lake")

    def series_dir(self, dataset: str, exchange: str, symbol: str, timeframe: str) -> Path:
        timeframe_ms(timeframe)
        return (
            self.root
            / _checked_name("dataset", dataset)
            / f"exchange={_checked_name('exchange', exchange)}"
            / f"symbol={symbol_slug(symbol)}"
            / f"timeframe={timeframe}"
        )

    def month_path(
        self, dataset: str, exchange: str, symbol: str, timeframe: str, month: str
    ) -> Path:
        if not _MONTH_RE.match(month):
            raise ValueError(f"invalid month {month!r}: expected YYYY-MM")
        return self.series_dir(dataset, exchange, symbol, timeframe) / f"{month}.parquet"

    def write_month(
        self,
        dataset: str,
        exchange: str,
        symbol: str,
        timeframe: str,
        month: str,
        frame: pl.DataFrame,
    ) -> Path:
        path = self.month_path(dataset, exchange, symbol, timeframe, month)
        atomic_write_parquet(frame, path)
        return path

    def read_month(
        self, dataset: str, exchange: str, symbol: str, timeframe: str, month: str
    ) -> pl.DataFrame:
        path = self.month_path(dataset, exchange, symbol, timeframe, month)
        if not path.exists():
            raise FileNotFoundError(
                f"no {dataset} for {symbol} {timeframe} in {month} at {path}: materialize it first"
            )
        return read_parquet_file(path)

    def month_files(
        self,
        dataset: str,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Path]:
        folder = self.series_dir(dataset, exchange, symbol, timeframe)
        if not folder.is_dir():
            return []
        first, last = month_range(start, end)
        return sorted(p for p in folder.glob("*.parquet") if first <= p.stem <= last)

    def read_bars(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
        dataset: str = "bars",
    ) -> pl.DataFrame:
        """Clean bars of one series in [start, end), sorted by time (empty frame if none)."""
        files = self.month_files(dataset, exchange, symbol, timeframe, start, end)
        if not files:
            if not self.series_dir(dataset, exchange, symbol, timeframe).is_dir():
                raise UnknownSymbolError(
                    f"no {timeframe} bars for {symbol!r} on {exchange!r} in the lake "
                    f"({self.root}); known symbols: {', '.join(self.symbols(exchange)) or 'none'}"
                )
            return pl.DataFrame(schema=BAR_SCHEMA)
        months = [read_parquet_file(path) for path in files]
        frame = pl.concat(months) if len(months) > 1 else months[0]
        if start is not None:
            frame = frame.filter(pl.col("timestamp") >= _utc(start))
        if end is not None:
            frame = frame.filter(pl.col("timestamp") < _utc(end))
        return frame

    def symbols(self, exchange: str, dataset: str = "bars") -> list[str]:
        folder = self.root / dataset / f"exchange={_checked_name('exchange', exchange)}"
        if not folder.is_dir():
            return []
        return sorted(slug_symbol(p.name.split("=", 1)[1]) for p in folder.glob("symbol=*"))

    def timeframes(self, exchange: str, symbol: str, dataset: str = "bars") -> list[str]:
        folder = self.series_dir(dataset, exchange, symbol, "1d").parent
        found = [p.name.split("=", 1)[1] for p in folder.glob("timeframe=*")]
        return sorted(found, key=timeframe_ms)


def month_range(start: datetime | None, end: datetime | None) -> tuple[str, str]:
    """The first and last month ('YYYY-MM') a [start, end) read can touch (all when open)."""
    return (month_key(start) if start else "0000-00", month_key(end) if end else "9999-99")


Stamps = tuple[tuple[str, int, int, int], ...]


def month_stamps(folder: Path | str, first: str, last: str) -> Stamps:
    """(name, inode, mtime ns, size) of the month files of ``folder`` in [first, last].

    A month replaced by a writer is a new file (new inode, usually new mtime and size): a
    reader's cache key. One ``scandir`` and a ``stat`` per month, cheap enough for every
    request. Raises ``FileNotFoundError`` when the series has no folder.
    """
    stamps = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(".parquet") or not first <= name[:7] <= last:
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # replaced right now: the next look sees the new one
                    continue
                stamps.append((name, stat.st_ino, stat.st_mtime_ns, stat.st_size))
    except NotADirectoryError:
        raise FileNotFoundError(folder) from None
    stamps.sort()
    return tuple(stamps)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
