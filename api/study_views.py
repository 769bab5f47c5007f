"""Published study files -> API models (pure conversions, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from api.models import (
    Equity,
    Fold,
    FoldMetrics,
    OosMetrics,
    Progress,
    StudyDetail,
    StudySummary,
    Trade,
    Trades,
)
from maestro_pipeline.engine.metrics import finite_or_none
from maestro_pipeline.engine.verdict import VERDICTS
from maestro_pipeline.keys import StudyKey

PROGRESS_STATUSES = ("pending", "running", "completed", "failed")
TRIAL_COUNT_COLUMNS = ("n_complete", "n_pruned", "n_infeasible", "n_evaluated_here")


def progress_model(key: StudyKey, progress: dict[str, Any] | None) -> Progress | None:
    if progress is None:
        return None
    status = progress.get("status")
    fields = {**progress, "study_id": key.study_id}
    fields["status"] = status if status in PROGRESS_STATUSES else "running"
    fields["best_value"] = finite_or_none(progress.get("best_value"))
    return Progress.model_validate(fields)


def study_status(progress: Progress | None, published: bool) -> str:
    if progress is not None:
        return progress.status
    return "completed" if published else "pending"


def study_summary(
    key: StudyKey,
    summary: dict[str, Any] | None,
    progress: dict[str, Any] | None,
    current_version: str | None = None,
) -> StudySummary:
    """The list entry of a study from its published summary and live progress (either may
    lack); ``current_version`` is the strategy's code version now."""
    live = progress_model(key, progress)
    base: dict[str, Any] = {
        "strategy_current_version": current_version,
        "study_id": key.study_id,
        "strategy": key.strategy,
        "symbol": key.symbol,
        "timeframe": key.timeframe,
        "status": study_status(live, summary is not None),
        "published": summary is not None,
        "progress": live,
    }
    if summary is not None:
        oos = summary.get("oos", summary)
        verdict = summary.get("verdict")
        base.update(
            scheme=summary.get("scheme", "walk_forward"),
            verdict=verdict if verdict in VERDICTS else None,
            version=summary.get("version"),
            strategy_version=summary.get("strategy_version"),
            strategy_source=summary.get("strategy_source"),
            oos=OosMetrics.model_validate(
                {k: finite_or_none(v) for k, v in oos.items() if isinstance(v, int | float | None)}
            ),
            deflated_sharpe_ratio=finite_or_none(summary.get("deflated_sharpe_ratio")),
            pbo=finite_or_none(summary.get("pbo")),
            wf_efficiency=finite_or_none(summary.get("wf_efficiency")),
            n_folds=summary.get("n_folds"),
            n_trials_total=summary.get("n_trials_total"),
            oos_start=summary.get("oos_start"),
            oos_end=summary.get("oos_end"),
        )
    return StudySummary.model_validate(base)


def _fold(row: dict[str, Any]) -> Fold:
    def window(prefix: str) -> FoldMetrics:
        return FoldMetrics.model_validate(
            {
                name.removeprefix(prefix): finite_or_none(value)
                for name, value in row.items()
                if name.startswith(prefix)
                and name not in (f"{prefix}start", f"{prefix}end")
                and name != f"{prefix}bars"
            }
        )

    return Fold(
        fold=row["fold"],
        is_start=row["is_start"],
        is_end=row["is_end"],
        oos_start=row["oos_start"],
        oos_end=row["oos_end"],
        is_bars=row["is_bars"],
        oos_bars=row["oos_bars"],
        best_params=json.loads(row["best_params"]),
        best_value=finite_or_none(row.get("best_value")),
        best_trial=row.get("best_trial"),
        wf_efficiency=finite_or_none(row.get("wf_efficiency")),
        is_metrics=window("is_"),
        oos_metrics=window("oos_"),
        trials={name: int(row[name]) for name in TRIAL_COUNT_COLUMNS if row.get(name) is not None},
    )


def study_detail(
    key: StudyKey,
    summary: dict[str, Any],
    folds: pl.DataFrame,
    progress: dict[str, Any] | None,
    current_version: str | None = None,
) -> StudyDetail:
    """A published study with its folds and overfitting diagnostics."""
    head = study_summary(key, summary, progress, current_version)
    return StudyDetail(
        **head.model_dump(),
        folds=[_fold(row) for row in folds.sort("fold").iter_rows(named=True)],
        param_stability=summary.get("param_stability") or {},
        deflated_sharpe=summary.get("deflated_sharpe"),
        pbo_details=summary.get("pbo_details"),
        timings=summary.get("timings"),
    )


def _floats(frame: pl.DataFrame, column: str) -> list[float | None]:
    return frame.get_column(column).fill_nan(None).to_list()


def equity_view(key: StudyKey, equity: pl.DataFrame) -> Equity:
    return Equity(
        study_id=key.study_id,
        count=equity.height,
        timestamp=equity.get_column("timestamp").dt.epoch("ms").to_list(),
        equity=_floats(equity, "equity"),
        returns=_floats(equity, "returns"),
        drawdown=_floats(equity, "drawdown"),
        fold=equity.get_column("fold").to_list(),
    )


def trades_view(key: StudyKey, trades: pl.DataFrame) -> Trades:
    rows = trades.sort("entry_time").iter_rows(named=True)
    items = [
        Trade.model_validate(
            {
                **row,
                "exit_price": finite_or_none(row["exit_price"]),
                "pnl": finite_or_none(row["pnl"]),
                "return": finite_or_none(row["return"]),
            }
        )
        for row in rows
    ]
    return Trades(study_id=key.study_id, count=len(items), trades=items)
