"""Walk-forward optimization studies: one Optuna-driven study per strategy x symbol x timeframe."""

import math
import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import orjson
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from maestro_pipeline.defs.market_data import bars
from maestro_pipeline.defs.partitions import strategy_symbol_timeframe, study_partitions
from maestro_pipeline.defs.resources import LakeResource, MarketDataResource, OptunaResource
from maestro_pipeline.engine.backtest import BacktestSettings
from maestro_pipeline.engine.metrics import finite_or_none
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.engine.walk_forward import (
    WalkForwardConfig,
    WalkForwardProgress,
    run_walk_forward,
)
from maestro_pipeline.settings import load_settings
from maestro_pipeline.storage.studies import StudyKey, count_study_rows, replace_study_rows

GROUP = "studies"
_settings = load_settings()

SUMMARY_METRICS = (
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "total_return",
    "cagr",
    "max_drawdown",
    "trade_count",
    "win_rate",
)


class WalkForwardStudyConfig(dg.Config):
    """How a study splits the bars and searches parameters (editable in the launchpad)."""

    n_splits: int = Field(default=_settings.study_splits, description="walk-forward folds")
    n_trials: int = Field(default=_settings.study_trials, description="Optuna trials per fold")
    is_oos_ratio: float = Field(default=4.0, description="in-sample bars per out-of-sample bar")
    anchored: bool = Field(default=False, description="expanding (anchored) in-sample windows")
    objective: str = Field(default="sharpe_ratio", description="metric maximized in-sample")
    min_trades: int = Field(default=3, description="fewer in-sample trades make a trial infeasible")
    seed: int = Field(default=42, description="TPE sampler seed")
    fees: float = Field(default=0.001, description="fraction of traded value per fill")
    slippage: float = Field(default=0.0005, description="fraction the fill price moves against us")
    direction: str = Field(default="long", description="long, short or both")

    def to_engine(self) -> WalkForwardConfig:
        return WalkForwardConfig(
            n_splits=self.n_splits,
            n_trials=self.n_trials,
            is_oos_ratio=self.is_oos_ratio,
            anchored=self.anchored,
            objective=self.objective,
            min_trades=self.min_trades,
            seed=self.seed,
            backtest=BacktestSettings(
                fees=self.fees, slippage=self.slippage, direction=self.direction
            ),
        )


def _summary_row(key: StudyKey, summary: dict[str, Any]) -> pl.DataFrame:
    """One warehouse row per study: headline figures as columns, the rest as JSON."""
    oos = summary.get("oos", summary)
    row: dict[str, Any] = {
        "study_id": key.study_id,
        "updated_at": datetime.now(UTC),
        **{f"oos_{name}": finite_or_none(oos.get(name)) for name in SUMMARY_METRICS},
        "deflated_sharpe_ratio": finite_or_none(summary.get("deflated_sharpe_ratio")),
        "pbo": finite_or_none(summary.get("pbo")),
        "wf_efficiency": finite_or_none(summary.get("wf_efficiency")),
        "n_trials_total": int(summary.get("n_trials_total") or 0),
        "summary_json": orjson.dumps(summary, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
    }
    return pl.DataFrame([row])


def format_number(value: float | None) -> str:
    """Two decimals for tables shown in the UI; a dash where there is no finite value."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _folds_markdown(folds: pl.DataFrame) -> str:
    lines = [
        "| fold | out-of-sample | best parameters | IS Sharpe | OOS Sharpe |",
        "|---|---|---|---|---|",
    ]
    for row in folds.iter_rows(named=True):
        period = f"{str(row['oos_start'])[:10]} → {str(row['oos_end'])[:10]}"
        lines.append(
            f"| {row['fold']} | {period} | `{row['best_params']}` | "
            f"{format_number(row.get('is_sharpe_ratio'))} | "
            f"{format_number(row.get('oos_sharpe_ratio'))} |"
        )
    return "\n".join(lines)


@dg.asset(
    partitions_def=study_partitions,
    group_name=GROUP,
    kinds={"optuna", "vectorbt", "parquet"},
    # A study reads the whole history of its symbol, so it depends on every month of bars.
    deps=[dg.AssetDep(bars, partition_mapping=dg.AllPartitionMapping())],
    check_specs=[dg.AssetCheckSpec("oos_equity_covers_every_fold", asset="walk_forward_study")],
)
def walk_forward_study(
    context: dg.AssetExecutionContext,
    config: WalkForwardStudyConfig,
    market_data: MarketDataResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
    optuna: OptunaResource,
) -> dg.MaterializeResult:
    """Walk-forward optimization of one strategy on one symbol and timeframe (Optuna per fold)."""
    strategy_name, symbol, timeframe = strategy_symbol_timeframe(context.partition_key)
    key = StudyKey(strategy_name, symbol, timeframe)
    bar_frame = lake.lake.read_bars(market_data.lake_exchange, symbol, timeframe)
    context.log.info(f"{key.study_id}: {bar_frame.height} bars, config {config.model_dump()}")

    store = lake.studies
    last_update = [0.0]

    def publish_progress(progress: WalkForwardProgress) -> None:
        # Throttled: watchers poll this file; Dagster's log gets the same line.
        now = time.monotonic()
        if progress.trials_done < progress.n_trials and now - last_update[0] < 1.0:
            return
        last_update[0] = now
        store.write_progress(
            key,
            {
                "status": "running",
                "run_id": context.run.run_id,
                "fold": progress.fold,
                "n_folds": progress.n_folds,
                "trials_done": progress.trials_done,
                "n_trials": progress.n_trials,
                "best_value": progress.best_value,
            },
        )
        context.log.info(
            f"fold {progress.fold + 1}/{progress.n_folds}: "
            f"{progress.trials_done}/{progress.n_trials} trials, best {progress.best_value}"
        )

    store.write_progress(key, {"status": "running", "run_id": context.run.run_id, "fold": 0})
    try:
        result = run_walk_forward(
            bar_frame,
            get_strategy(strategy_name),
            config.to_engine(),
            storage=optuna.storage(),
            study_prefix=f"{market_data.lake_exchange}:{key.study_id}",
            progress=publish_progress,
            exclusive=not optuna.shared,
            # Where `maestro worker` processes find these bars (MAESTRO_DATA_DIR's lake).
            source={
                "exchange": market_data.lake_exchange,
                "symbol": symbol,
                "timeframe": timeframe,
            },
        )
    except BaseException as exc:
        store.write_progress(
            key, {"status": "failed", "run_id": context.run.run_id, "error": str(exc)[:500]}
        )
        raise
    frames = {
        "folds": result.folds,
        "equity": result.equity,
        "trades": result.trades,
        "trials": result.trials,
    }
    path = store.publish(key, frames, result.summary)
    with duckdb.get_connection() as conn:
        replace_study_rows(conn, key, {"summary": _summary_row(key, result.summary), **frames})
        stored = count_study_rows(conn, key)
    store.write_progress(
        key,
        {
            "status": "completed",
            "run_id": context.run.run_id,
            "n_folds": result.folds.height,
            "trials_done": int(result.summary.get("n_trials_total") or 0),
            "version": path.name,
        },
    )

    summary = result.summary
    oos = summary.get("oos", summary)
    fold_ids = set(result.folds.get_column("fold").to_list())
    covered = (
        set(result.equity.get_column("fold").unique().to_list()) if result.equity.height else set()
    )
    return dg.MaterializeResult(
        metadata={
            "oos_sharpe_ratio": finite_or_none(oos.get("sharpe_ratio")),
            "oos_total_return": finite_or_none(oos.get("total_return")),
            "oos_max_drawdown": finite_or_none(oos.get("max_drawdown")),
            "oos_trade_count": int(oos.get("trade_count") or 0),
            "deflated_sharpe_ratio": finite_or_none(summary.get("deflated_sharpe_ratio")),
            "pbo": finite_or_none(summary.get("pbo")),
            "wf_efficiency": finite_or_none(summary.get("wf_efficiency")),
            "n_trials_total": int(summary.get("n_trials_total") or 0),
            "timings_seconds": dg.MetadataValue.json(summary.get("timings", {})),
            "param_stability": dg.MetadataValue.json(summary.get("param_stability", {})),
            "folds": dg.MetadataValue.md(_folds_markdown(result.folds)),
            "warehouse_rows": dg.MetadataValue.json(stored),
            "path": dg.MetadataValue.path(str(path)),
            "dagster/row_count": result.equity.height,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="oos_equity_covers_every_fold",
                passed=fold_ids == covered and result.equity.height > 0,
                metadata={"folds": len(fold_ids), "folds_in_equity": len(covered)},
            )
        ],
    )


study_assets = [walk_forward_study]
