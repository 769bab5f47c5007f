"""The leaderboard: every published study's headline (verdict, figures), ranked by out-of-sample
Sharpe."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from maestro_pipeline.engine.metrics import METRIC_DISPLAY
from maestro_pipeline.storage.studies import (
    HEADLINE_COLUMNS,
    HEADLINE_DISPLAY,
    StudyStore,
    headline_dtype,
    headline_figures,
)

RANK_BY = "oos_sharpe_ratio"
# strategy_version: the fingerprint of the strategy code that produced each row, so results of
# edited code are never taken for the current code's.
KEY_COLUMNS = ("study_id", "strategy", "symbol", "timeframe", "strategy_version")
LEADERBOARD_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in KEY_COLUMNS},
    **{name: headline_dtype(name) for name in HEADLINE_COLUMNS},
}


def column_display(column: str) -> tuple[str, str]:
    """(label, format) of a headline column: ``oos_sharpe_ratio`` -> ('Sharpe', 'ratio'),
    ``verdict`` -> ('Verdict', 'text')."""
    if column in HEADLINE_DISPLAY:
        return HEADLINE_DISPLAY[column]
    return METRIC_DISPLAY[column.removeprefix("oos_")]


def with_headline_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """A leaderboard written before some headline column existed, with that column (null)."""
    missing = [name for name in HEADLINE_COLUMNS if name not in frame.columns]
    return frame.with_columns(pl.lit(None, headline_dtype(name)).alias(name) for name in missing)


def build_leaderboard(studies: StudyStore) -> pl.DataFrame:
    """One row per published study, ranked (1 = best OOS Sharpe; studies without one last)."""
    rows = []
    for key in studies.published_keys():
        summary = studies.read_summary(key)
        if summary is None:
            continue
        rows.append(
            {
                "study_id": key.study_id,
                "strategy": key.strategy,
                "symbol": key.symbol,
                "timeframe": key.timeframe,
                "strategy_version": summary.get("strategy_version"),
                **headline_figures(summary),
            }
        )
    return (
        pl.DataFrame(rows, schema=LEADERBOARD_SCHEMA)
        .sort(RANK_BY, descending=True, nulls_last=True)
        .with_row_index("rank", offset=1)
        .with_columns(
            pl.col("oos_trade_count").cast(pl.Int64),
            pl.lit(datetime.now(UTC)).alias("updated_at"),
        )
    )
