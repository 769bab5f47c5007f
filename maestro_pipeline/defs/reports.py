"""Analytics reports of finished studies and the leaderboard across all of them."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from maestro_pipeline.analytics.insights import optuna_insights
from maestro_pipeline.analytics.tearsheet import (
    buy_and_hold_returns,
    full_metrics_table,
    report_metrics,
    returns_from_equity,
    tearsheet_html,
)
from maestro_pipeline.defs.partitions import strategy_symbol_timeframe, study_partitions
from maestro_pipeline.defs.resources import LakeResource, MarketDataResource
from maestro_pipeline.defs.studies import format_number, walk_forward_study
from maestro_pipeline.engine.bars import timeframe_ms
from maestro_pipeline.engine.metrics import periods_per_year
from maestro_pipeline.storage.reports import ReportStore
from maestro_pipeline.storage.studies import StudyKey

GROUP = "analytics"

LEADERBOARD_COLUMNS = {
    "oos_sharpe_ratio": "sharpe_ratio",
    "oos_sortino_ratio": "sortino_ratio",
    "oos_max_drawdown": "max_drawdown",
    "oos_cagr": "cagr",
    "oos_total_return": "total_return",
    "oos_trade_count": "trade_count",
}


@dg.asset(
    partitions_def=study_partitions,
    group_name=GROUP,
    kinds={"quantstats", "html"},
    deps=[walk_forward_study],
)
def strategy_report(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
) -> dg.MaterializeResult:
    """QuantStats metrics and tear sheet of a study's out-of-sample returns vs buy-and-hold."""
    strategy, symbol, timeframe = strategy_symbol_timeframe(context.partition_key)
    key = StudyKey(strategy, symbol, timeframe)
    studies = lake.studies
    equity = studies.read_frame(key, "equity")
    trials = studies.read_frame(key, "trials")
    if equity is None or trials is None:
        raise dg.Failure(f"study {key.study_id} is not published: materialize walk_forward_study")
    periods = periods_per_year(timeframe_ms(timeframe))
    returns = returns_from_equity(equity)
    bars = lake.lake.read_bars(market_data.lake_exchange, symbol, timeframe)
    benchmark = buy_and_hold_returns(bars, returns.index).rename(f"{symbol} buy & hold")
    metrics = report_metrics(returns, benchmark, periods)
    report = {
        "study_id": key.study_id,
        "strategy": strategy,
        "symbol": symbol,
        "timeframe": timeframe,
        "periods_per_year": periods,
        "period": {"start": str(returns.index[0]), "end": str(returns.index[-1])},
        "metrics": metrics,
        "quantstats_table": full_metrics_table(returns, benchmark, periods),
        "generated_at": datetime.now(UTC).isoformat(),
    }
    store = ReportStore(lake.data_dir)
    report_path = store.write_json(key, "report", report)
    html_path = store.write_tearsheet(
        key, tearsheet_html(returns, benchmark, periods, f"{strategy} on {symbol} {timeframe}")
    )
    insights_path = store.write_json(key, "insights", optuna_insights(trials))
    sharpe = metrics["sharpe_ratio"]
    return dg.MaterializeResult(
        metadata={
            "oos_sharpe_ratio": sharpe["strategy"],
            "benchmark_sharpe_ratio": sharpe["benchmark"],
            "oos_cagr": metrics["cagr"]["strategy"],
            "oos_max_drawdown": metrics["max_drawdown"]["strategy"],
            "benchmark_total_return": metrics["total_return"]["benchmark"],
            "report": dg.MetadataValue.path(str(report_path)),
            "tearsheet": dg.MetadataValue.path(str(html_path)),
            "insights": dg.MetadataValue.path(str(insights_path)),
        }
    )


def _leaderboard_row(key: StudyKey, summary: dict) -> dict:
    oos = summary.get("oos", summary)
    row: dict = {
        "study_id": key.study_id,
        "strategy": key.strategy,
        "symbol": key.symbol,
        "timeframe": key.timeframe,
    }
    for column, name in LEADERBOARD_COLUMNS.items():
        value = oos.get(name)
        row[column] = None if value is None else float(value)
    for name in ("deflated_sharpe_ratio", "pbo", "wf_efficiency"):
        value = summary.get(name)
        row[name] = None if value is None else float(value)
    return row


@dg.asset(
    group_name=GROUP,
    kinds={"parquet"},
    deps=[dg.AssetDep(strategy_report, partition_mapping=dg.AllPartitionMapping())],
)
def leaderboard(lake: LakeResource) -> dg.MaterializeResult:
    """Every published study ranked by out-of-sample Sharpe, with DSR, PBO and WF efficiency."""
    studies = lake.studies
    rows = []
    for key in studies.published_keys():
        summary = studies.read_summary(key)
        if summary is not None:
            rows.append(_leaderboard_row(key, summary))
    schema = {
        "study_id": pl.String,
        "strategy": pl.String,
        "symbol": pl.String,
        "timeframe": pl.String,
        **{column: pl.Float64 for column in LEADERBOARD_COLUMNS},
        "deflated_sharpe_ratio": pl.Float64,
        "pbo": pl.Float64,
        "wf_efficiency": pl.Float64,
    }
    frame = (
        pl.DataFrame(rows, schema=schema)
        .sort("oos_sharpe_ratio", descending=True, nulls_last=True)
        .with_row_index("rank", offset=1)
        .with_columns(
            pl.col("oos_trade_count").cast(pl.Int64),
            pl.lit(datetime.now(UTC)).alias("updated_at"),
        )
    )
    path = ReportStore(lake.data_dir).write_leaderboard(frame)
    top = frame.head(10).select(
        "rank", "study_id", "oos_sharpe_ratio", "deflated_sharpe_ratio", "pbo"
    )
    lines = ["| rank | study | OOS Sharpe | DSR | PBO |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['rank']} | {r['study_id']} | {format_number(r['oos_sharpe_ratio'])} | "
        f"{format_number(r['deflated_sharpe_ratio'])} | {format_number(r['pbo'])} |"
        for r in top.iter_rows(named=True)
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "top_10": dg.MetadataValue.md("\n".join(lines)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


report_assets = [strategy_report, leaderboard]
