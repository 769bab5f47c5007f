"""Analytics reports of finished studies and the leaderboard across all of them."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from maestro_pipeline.defs.metadata import format_number, markdown_table
from maestro_pipeline.defs.partitions import study_key, study_partitions
from maestro_pipeline.defs.resources import LakeResource, MarketDataResource
from maestro_pipeline.defs.studies import walk_forward_study
from maestro_pipeline.engine.metrics import periods_per_year
from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.keys import StudyKey
from maestro_pipeline.storage.leaderboard import build_leaderboard

GROUP = "analytics"


@dg.asset(
    partitions_def=study_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=11),
    group_name=GROUP,
    kinds={"quantstats", "html"},
    deps=[walk_forward_study],
)
def strategy_report(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
) -> dg.MaterializeResult:
    """QuantStats metrics and tear sheet of a study's out-of-sample returns vs buy-and-hold."""
    exchange = market_data.resolve().lake_exchange
    for partition in context.partition_keys:
        metadata = _report(study_key(partition), exchange, lake)
        context.add_asset_metadata(metadata, partition_key=partition)
    return dg.MaterializeResult()


def _report(key: StudyKey, exchange: str, lake: LakeResource) -> dict[str, Any]:
    """Write one study's report, tear sheet and insights; their metadata."""
    # QuantStats and matplotlib load only in the processes that render reports.
    from maestro_pipeline.analytics.insights import optuna_insights
    from maestro_pipeline.analytics.tearsheet import (
        buy_and_hold_returns,
        full_metrics_table,
        report_metrics,
        returns_from_equity,
        tearsheet_html,
    )

    studies = lake.studies
    equity = studies.read_frame(key, "equity")
    trials = studies.read_frame(key, "trials")
    if equity is None or trials is None:
        raise dg.Failure(f"study {key.study_id} is not published: materialize walk_forward_study")
    periods = periods_per_year(timeframe_ms(key.timeframe))
    returns = returns_from_equity(equity)
    bars = lake.lake.read_bars(exchange, key.symbol, key.timeframe)
    benchmark = buy_and_hold_returns(bars, returns.index).rename(f"{key.symbol} buy & hold")
    metrics = report_metrics(returns, benchmark, periods)
    report = {
        "study_id": key.study_id,
        "strategy": key.strategy,
        "symbol": key.symbol,
        "timeframe": key.timeframe,
        "periods_per_year": periods,
        "period": {"start": str(returns.index[0]), "end": str(returns.index[-1])},
        "metrics": metrics,
        "quantstats_table": full_metrics_table(returns, benchmark),
        "generated_at": datetime.now(UTC).isoformat(),
    }
    store = lake.reports
    title = f"{key.strategy} on {key.symbol} {key.timeframe}"
    report_path = store.write_json(key, "report", report)
    html_path = store.write_tearsheet(key, tearsheet_html(returns, benchmark, title))
    insights_path = store.write_json(key, "insights", optuna_insights(trials))
    sharpe = metrics["sharpe_ratio"]
    return {
        "oos_sharpe_ratio": sharpe["strategy"],
        "benchmark_sharpe_ratio": sharpe["benchmark"],
        "oos_cagr": metrics["cagr"]["strategy"],
        "oos_max_drawdown": metrics["max_drawdown"]["strategy"],
        "benchmark_total_return": metrics["total_return"]["benchmark"],
        "report": dg.MetadataValue.path(str(report_path)),
        "tearsheet": dg.MetadataValue.path(str(html_path)),
        "insights": dg.MetadataValue.path(str(insights_path)),
    }


@dg.asset(
    group_name=GROUP,
    kinds={"parquet"},
    deps=[dg.AssetDep(strategy_report, partition_mapping=dg.AllPartitionMapping())],
)
def leaderboard(lake: LakeResource) -> dg.MaterializeResult:
    """Every published study ranked by out-of-sample Sharpe, with its verdict, DSR, PBO and WF
    efficiency."""
    frame = build_leaderboard(lake.studies)
    path = lake.reports.write_leaderboard(frame)
    top = frame.head(10).iter_rows(named=True)
    rows = [
        [
            str(r["rank"]),
            r["study_id"],
            r["verdict"] or "–",
            format_number(r["oos_sharpe_ratio"]),
            format_number(r["deflated_sharpe_ratio"]),
            format_number(r["pbo"]),
        ]
        for r in top
    ]
    verdicts = frame.get_column("verdict").fill_null("none").value_counts(sort=True)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "top_10": dg.MetadataValue.md(
                markdown_table(["rank", "study", "verdict", "OOS Sharpe", "DSR", "PBO"], rows)
            ),
            "verdicts": dg.MetadataValue.json(dict(verdicts.iter_rows())),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


report_assets = [strategy_report, leaderboard]
