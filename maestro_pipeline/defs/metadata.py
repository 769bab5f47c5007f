"""How assets present numbers in the Dagster UI: tables as Markdown, two decimals."""

from __future__ import annotations

import math

import dagster as dg
import polars as pl

PREVIEW_ROWS = 5


def format_number(value: float | None) -> str:
    """Two decimals for tables shown in the UI; a dash where there is no finite value."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.2f}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (Dagster renders Markdown metadata)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def folds_markdown(folds: pl.DataFrame) -> str:
    """A study's folds: window, chosen parameters, IS and OOS Sharpe."""
    rows = [
        [
            str(row["fold"]),
            f"{str(row['oos_start'])[:10]} → {str(row['oos_end'])[:10]}",
            f"`{row['best_params']}`",
            format_number(row.get("is_sharpe_ratio")),
            format_number(row.get("oos_sharpe_ratio")),
        ]
        for row in folds.iter_rows(named=True)
    ]
    return markdown_table(
        ["fold", "out-of-sample", "best parameters", "IS Sharpe", "OOS Sharpe"], rows
    )


def table_preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows of a bar frame as a Dagster table (timestamps as text)."""
    head = frame.head(rows)
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, "string" if name == "timestamp" else "float")
            for name in head.columns
        ]
    )
    records = [
        dg.TableRecord({k: (str(v) if k == "timestamp" else v) for k, v in row.items()})
        for row in head.iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records=records, schema=schema)
