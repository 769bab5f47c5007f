"""Market-data assets: exchange downloads -> clean Parquet bars -> the warehouse ``ohlcv`` table.

Each asset materializes every partition a run targets: one symbol-month when launched for a
partition, a whole range when backfilled (the single-run backfill policy: one process, one
warehouse connection, instead of a run and its start-up per symbol-month). Metadata is recorded
per partition; a run's checks cover every partition it wrote.
"""

import time
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from maestro_pipeline.defs.metadata import table_preview
from maestro_pipeline.defs.partitions import market_data_partitions, symbol_and_month
from maestro_pipeline.defs.resources import LakeResource, MarketDataResource, WarehouseResource
from maestro_pipeline.engine.bars import clean_bars, find_gaps, resample_bars
from maestro_pipeline.engine.quality import BAR_RULES, QualityCheck, check_bars
from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.storage.lake import month_bounds_ms
from maestro_pipeline.storage.warehouse import OHLCV_TABLE

GROUP = "market_data"
BACKFILL = dg.BackfillPolicy.single_run()


def _span_metadata(frame: pl.DataFrame) -> dict[str, object]:
    if frame.is_empty():
        return {"dagster/row_count": 0, "first_timestamp": "-", "last_timestamp": "-"}
    stamps = frame.get_column("timestamp")
    first, last = stamps.min(), stamps.max()
    return {
        "dagster/row_count": frame.height,
        "first_timestamp": str(first if isinstance(first, datetime) else _ms_to_utc(first)),
        "last_timestamp": str(last if isinstance(last, datetime) else _ms_to_utc(last)),
    }


def _ms_to_utc(ms: int | None) -> datetime | str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dg.asset(
    partitions_def=market_data_partitions,
    backfill_policy=BACKFILL,
    group_name=GROUP,
    kinds={"ccxt", "parquet"},
    # Transient exchange errors are retried with backoff inside the source client.
    pool="exchange_api",
)
def raw_ohlcv(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
) -> dg.MaterializeResult:
    """Untouched OHLCV rows from the source, one Parquet file per symbol and month."""
    market = market_data.resolve()
    client = market.client()
    timeframe = market.base_timeframe
    # The current month is still growing: fetch up to the last bar that has closed.
    now_ms = int(time.time() * 1000)
    last_closed = now_ms - now_ms % timeframe_ms(timeframe)
    rows = 0
    for key in context.partition_keys:
        symbol, month = symbol_and_month(key)
        start_ms, end_ms = month_bounds_ms(month)
        started = time.perf_counter()
        raw = client.fetch_ohlcv(symbol, timeframe, start_ms, min(end_ms, last_closed))
        path = lake.lake.write_month("raw", market.lake_exchange, symbol, timeframe, month, raw)
        rows += raw.height
        context.add_asset_metadata(
            {
                **_span_metadata(raw),
                "source": market.source,
                "exchange": market.lake_exchange,
                "timeframe": timeframe,
                "download_seconds": round(time.perf_counter() - started, 3),
                "path": dg.MetadataValue.path(str(path)),
                "preview": table_preview(raw),
            },
            partition_key=key,
        )
    context.log.info(f"{len(context.partition_keys)} symbol-months: {rows} raw rows")
    return dg.MaterializeResult()


def _check_result(checks: list[tuple[str, QualityCheck]], name: str) -> dg.AssetCheckResult:
    """One rule's verdict over every partition of the run (failing partitions named)."""
    verdicts = [(key, check) for key, check in checks if check.name == name]
    failed = [key for key, check in verdicts if not check.passed]
    blocking = BAR_RULES[name]
    metadata: dict[str, object] = {"partitions_checked": len(verdicts), "failed_partitions": failed}
    if len(verdicts) == 1:
        metadata.update(verdicts[0][1].metadata)
    else:
        metadata["by_partition"] = dg.MetadataValue.json(
            {key: check.metadata for key, check in verdicts if not check.passed}
        )
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@dg.asset(
    partitions_def=market_data_partitions,
    backfill_policy=BACKFILL,
    group_name=GROUP,
    kinds={"polars", "parquet"},
    deps=[raw_ohlcv],
    check_specs=[
        dg.AssetCheckSpec(name, asset="bars", blocking=blocking)
        for name, blocking in BAR_RULES.items()
    ],
)
def bars(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
) -> dg.MaterializeResult:
    """Clean OHLCV bars (UTC, sorted, de-duplicated, OHLC-valid) at every configured timeframe."""
    market = market_data.resolve()
    base = market.base_timeframe
    exchange = market.lake_exchange
    checks: list[tuple[str, QualityCheck]] = []
    for key in context.partition_keys:
        symbol, month = symbol_and_month(key)
        raw = lake.lake.read_month("raw", exchange, symbol, base, month)
        clean, report = clean_bars(raw, base)
        written: dict[str, pl.DataFrame] = {}
        for timeframe in market.timeframes:
            frame = clean if timeframe == base else resample_bars(clean, timeframe)
            lake.lake.write_month("bars", exchange, symbol, timeframe, month, frame)
            # Checks read back what landed on disk, not what we meant to write.
            written[timeframe] = lake.lake.read_month("bars", exchange, symbol, timeframe, month)
        gaps = find_gaps(written[base], base)
        if report.rejected_rows:
            context.log.warning(
                f"{symbol} {month}: rejected {report.invalid_rows} invalid and "
                f"{report.misaligned_rows} off-grid rows"
            )
        context.add_asset_metadata(
            {
                **_span_metadata(written[base]),
                "rows_by_timeframe": {tf: f.height for tf, f in written.items()},
                "raw_rows": report.raw_rows,
                "duplicate_rows_dropped": report.duplicate_rows,
                "invalid_rows_rejected": report.invalid_rows,
                "misaligned_rows_rejected": report.misaligned_rows,
                "gaps_found": len(gaps.gaps),
                "missing_bars": gaps.missing_bars,
                "gap_ratio": gaps.gap_ratio,
                "gaps": dg.MetadataValue.json([list(g) for g in gaps.gaps]),
                "preview": table_preview(written[base]),
            },
            partition_key=key,
        )
        verdicts = check_bars(written, base, market.max_gap_ratio, report.rejected_rows)
        checks.extend((key, check) for check in verdicts)
    return dg.MaterializeResult(check_results=[_check_result(checks, n) for n in BAR_RULES])


@dg.asset(
    partitions_def=market_data_partitions,
    backfill_policy=BACKFILL,
    group_name=GROUP,
    kinds={"duckdb", "table"},
    deps=[bars],
    pool="warehouse_writer",
    metadata={"dagster/table_name": OHLCV_TABLE},
    check_specs=[dg.AssetCheckSpec("lake_and_warehouse_row_counts_equal", asset="ohlcv")],
)
def ohlcv(
    context: dg.AssetExecutionContext,
    market_data: MarketDataResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """The warehouse time-series table of bars, all symbols and timeframes, upserted by month."""
    market = market_data.resolve()
    exchange = market.lake_exchange
    mismatches: dict[str, dict[str, object]] = {}
    with warehouse.open() as store:
        for key in context.partition_keys:
            symbol, month = symbol_and_month(key)
            frames = {
                tf: lake.lake.read_month("bars", exchange, symbol, tf, month)
                for tf in market.timeframes
            }
            lake_counts = {tf: f.height for tf, f in frames.items()}
            written = store.replace_month(exchange, symbol, month, frames)
            stored = store.month_row_counts(exchange, symbol, month)
            stored_all = {tf: stored.get(tf, 0) for tf in lake_counts}
            if stored_all != lake_counts or not set(stored) <= set(lake_counts):
                mismatches[key] = {"lake": lake_counts, "warehouse": stored}
            context.add_asset_metadata(
                {
                    "dagster/row_count": written,
                    "rows_by_timeframe": stored_all,
                    "warehouse": store.kind,
                    "exchange": exchange,
                    "symbol": symbol,
                },
                partition_key=key,
            )
        kind = store.kind
    n = len(context.partition_keys)
    context.log.info(f"{n} symbol-months upserted into {OHLCV_TABLE} ({kind})")
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="lake_and_warehouse_row_counts_equal",
                passed=not mismatches,
                metadata={"partitions_checked": n, "mismatches": dg.MetadataValue.json(mismatches)},
            )
        ]
    )


market_data_assets = [raw_ohlcv, bars, ohlcv]
