"""Published analytics: per-study reports (metrics JSON, HTML tear sheet, Optuna insights) and
the leaderboard, under ``{data_dir}/reports``::

    reports/studies/ema_cross.BTC-USD.1h/report.json | tearsheet.html | insights.json
    reports/leaderboard.parquet

Every file is replaced atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl

from maestro_pipeline.keys import StudyKey
from maestro_pipeline.storage.files import (
    atomic_write_bytes,
    atomic_write_parquet,
    json_bytes,
    read_parquet_file,
)

REPORT_FILES = {"report": "report.json", "tearsheet": "tearsheet.html", "insights": "insights.json"}


class ReportStore:
    """Writes and reads published reports and the leaderboard."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir) / "reports"

    def study_dir(self, key: StudyKey) -> Path:
        return self.root / "studies" / key.study_id

    def path(self, key: StudyKey, kind: str) -> Path:
        if kind not in REPORT_FILES:
            raise ValueError(f"unknown report kind {kind!r}; one of {sorted(REPORT_FILES)}")
        return self.study_dir(key) / REPORT_FILES[kind]

    def write_json(self, key: StudyKey, kind: str, value: dict[str, Any]) -> Path:
        path = self.path(key, kind)
        atomic_write_bytes(json_bytes(value), path)
        return path

    def write_tearsheet(self, key: StudyKey, html: str) -> Path:
        path = self.path(key, "tearsheet")
        atomic_write_bytes(html.encode(), path)
        return path

    def read_json(self, key: StudyKey, kind: str) -> dict[str, Any] | None:
        path = self.path(key, kind)
        return orjson.loads(path.read_bytes()) if path.exists() else None

    @property
    def leaderboard_path(self) -> Path:
        return self.root / "leaderboard.parquet"

    def write_leaderboard(self, frame: pl.DataFrame) -> Path:
        atomic_write_parquet(frame, self.leaderboard_path)
        return self.leaderboard_path

    def read_leaderboard(self) -> pl.DataFrame | None:
        path = self.leaderboard_path
        return read_parquet_file(path) if path.exists() else None
