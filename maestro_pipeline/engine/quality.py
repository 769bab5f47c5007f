"""Data-quality rules of stored bars: what the ``bars`` asset's checks assert.

Each rule looks at the bars of one symbol-month as written, at every timeframe, and says
whether it holds with the numbers behind the verdict. Blocking rules stop downstream assets
from reading bad bars; a warning (rejected rows) only flags the partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from maestro_pipeline.engine.bars import find_gaps


@dataclass(frozen=True)
class QualityCheck:
    """One rule's verdict on a partition's bars."""

    name: str
    passed: bool
    blocking: bool
    metadata: dict[str, Any] = field(default_factory=dict)


# Every rule, with whether it blocks downstream materializations.
BAR_RULES: dict[str, bool] = {
    "no_duplicate_timestamps": True,
    "monotonic_time": True,
    "ohlc_bounds": True,
    "gap_ratio_below_threshold": True,
    "no_rejected_rows": False,
}


def _out_of_bounds(frame: pl.DataFrame) -> int:
    return frame.filter(
        (pl.col("high") < pl.max_horizontal("open", "close", "low"))
        | (pl.col("low") > pl.min_horizontal("open", "close", "high"))
        | (pl.col("low") <= 0)
        | (pl.col("volume") < 0)
    ).height


def check_bars(
    written: Mapping[str, pl.DataFrame],
    base_timeframe: str,
    max_gap_ratio: float,
    rejected_rows: int,
) -> list[QualityCheck]:
    """Every rule of ``BAR_RULES`` on the bars written per timeframe (``written[tf]``)."""
    duplicates = {tf: f.height - f.get_column("timestamp").n_unique() for tf, f in written.items()}
    unsorted = {
        tf: int((f.get_column("timestamp").diff().dt.total_milliseconds() <= 0).sum())
        for tf, f in written.items()
    }
    out_of_bounds = {tf: _out_of_bounds(f) for tf, f in written.items()}
    gaps = find_gaps(written[base_timeframe], base_timeframe)
    verdicts = {
        "no_duplicate_timestamps": (
            not any(duplicates.values()),
            {"duplicates_by_timeframe": duplicates},
        ),
        "monotonic_time": (not any(unsorted.values()), {"out_of_order_by_timeframe": unsorted}),
        "ohlc_bounds": (
            not any(out_of_bounds.values()),
            {"violations_by_timeframe": out_of_bounds},
        ),
        "gap_ratio_below_threshold": (
            gaps.gap_ratio <= max_gap_ratio,
            {
                "gap_ratio": gaps.gap_ratio,
                "threshold": max_gap_ratio,
                "missing_bars": gaps.missing_bars,
            },
        ),
        "no_rejected_rows": (rejected_rows == 0, {"rejected_rows": rejected_rows}),
    }
    return [
        QualityCheck(name, passed, BAR_RULES[name], metadata)
        for name, (passed, metadata) in verdicts.items()
    ]
