"""A published study summary's validation keys -> the artifact models (pure conversions).

Each view returns None when the summary lacks its artifact; the router says why in a 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from api.validation_models import Bootstrap, Cpcv, CrossCheck, PathEquity, Plateau, Validation
from maestro_pipeline.engine.metrics import finite_or_none
from maestro_pipeline.keys import StudyKey


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def validation_view(key: StudyKey, summary: dict[str, Any]) -> Validation | None:
    details = summary.get("verdict_details")
    if summary.get("verdict") is None or not isinstance(details, dict):
        return None
    oos = summary.get("oos", summary)
    return Validation.model_validate(
        {
            **details,
            "study_id": key.study_id,
            "scheme": summary.get("scheme", "walk_forward"),
            "verdict": summary["verdict"],
            "oos_trade_count": finite_or_none(oos.get("trade_count")),
            "deflated_sharpe_ratio": finite_or_none(summary.get("deflated_sharpe_ratio")),
            "pbo": finite_or_none(summary.get("pbo")),
            "wf_efficiency": finite_or_none(summary.get("wf_efficiency")),
        }
    )


def bootstrap_view(key: StudyKey, summary: dict[str, Any]) -> Bootstrap | None:
    boot = summary.get("bootstrap")
    if not isinstance(boot, dict):
        return None
    fields = {k: v for k, v in boot.items() if k != "fan"}
    fan = boot.get("fan")
    if isinstance(fan, dict) and fan.get("timestamps"):
        fields["fan"] = {
            "timestamp": [_epoch_ms(t) for t in fan["timestamps"]],
            "index": fan["index"],
            "quantiles": fan["quantiles"],
        }
    return Bootstrap.model_validate(
        {**fields, "study_id": key.study_id, "trade_monte_carlo": summary.get("trade_monte_carlo")}
    )


def thinned(n: int, points: int | None) -> list[int] | None:
    """Evenly spaced row positions, first and last included (None: every row)."""
    if points is None or points >= n:
        return None
    if points < 2:
        raise ValueError(f"points must be at least 2, got {points}")
    return sorted({round(i * (n - 1) / (points - 1)) for i in range(points)})


def _path_equity(paths: pl.DataFrame, n_paths: int, points: int | None) -> PathEquity | None:
    frames = [paths.filter(pl.col("path") == j) for j in range(n_paths)]
    if not paths.height or any(f.height != frames[0].height for f in frames):
        return None
    bars = frames[0].height
    rows = thinned(bars, points)

    def pick(frame: pl.DataFrame, column: str) -> pl.Series:
        series = frame.get_column(column)
        return series if rows is None else series.gather(rows)

    return PathEquity(
        count=bars if rows is None else len(rows),
        bars=bars,
        timestamp=pick(frames[0], "timestamp").dt.epoch("ms").to_list(),
        equity=[pick(f, "equity").fill_nan(None).to_list() for f in frames],
    )


def cpcv_view(
    key: StudyKey, summary: dict[str, Any], paths: pl.DataFrame | None, points: int | None
) -> Cpcv | None:
    cpcv = summary.get("cpcv")
    if summary.get("scheme") != "cpcv" or not isinstance(cpcv, dict):
        return None
    equity = None if paths is None else _path_equity(paths, int(cpcv["n_paths"]), points)
    groups = []
    # Every path holds every bar: the first one's timestamps date the groups.
    times = (
        None
        if paths is None
        else paths.filter(pl.col("path") == 0).get_column("timestamp").dt.epoch("ms")
    )
    for group in cpcv.get("groups", []):
        row = dict(group)
        start, stop = group["start_index"], group["stop_index"]
        if times is not None and 0 <= start < stop <= len(times):
            row.update(start=times[start], end=times[stop - 1])
        groups.append(row)
    return Cpcv.model_validate(
        {**cpcv, "study_id": key.study_id, "groups": groups, "equity": equity}
    )


def plateau_view(key: StudyKey, summary: dict[str, Any]) -> Plateau | None:
    plateau = summary.get("plateau")
    if not isinstance(plateau, dict):
        return None
    return Plateau.model_validate({**plateau, "study_id": key.study_id})


def cross_check_view(key: StudyKey, summary: dict[str, Any]) -> CrossCheck | None:
    check = summary.get("cross_check")
    if not isinstance(check, dict):
        return None
    return CrossCheck.model_validate({**check, "study_id": key.study_id})
