"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file Maestro publishes (lake months, study versions, reports, progress) is written to a
temporary name beside its target, synced, and renamed into place; a failed write loses nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import polars as pl


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temp file beside ``path``, sync it, and rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically (zstd, with statistics for pruned reads)."""
    atomic_write(
        path, lambda handle: frame.write_parquet(handle, compression="zstd", statistics=True)
    )


def json_bytes(value: Any) -> bytes:
    """Indented JSON of published documents (numpy values and non-string keys allowed)."""
    return orjson.dumps(
        value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2
    )


def read_parquet_file(path: Path) -> pl.DataFrame:
    """One Parquet file, read from a single open: one version of it even while it is replaced.

    Reading a path lets the reader open the file more than once (footer, then pages); a writer
    renaming a new version in between would hand it the footer of one and the pages of the
    other.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    return pl.read_parquet(data)
