"""Market-data assets: exchange downloads -> clean Parquet bars -> the warehouse ``ohlcv`` table."""

import time
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from maestro_pipeline.defs.partitions import market_data_partitions, symbol_and_month
from maestro_pipeline.defs.resources import LakeResource, MarketDataResource, WarehouseResource
from maestro_pipeline.engine.bars import clean_bars, find_gaps, resample_bars
from maestro_pipeline.engine.quality import BAR_RULES, QualityCheck, check_bars
from maestro_pipeline.engine.timeframes import timeframe_ms
from maestro_pipeline.storage.lake import month_bounds_ms
from maestro_pipeline.storage.warehouse import OHLCV_TABLE

GROUP = "market_data"
PREVIEW_ROWS = 5


def _preview(frame: pl.DataFrame) -> dg.MetadataValue:
    head = frame.head(PREVIEW_ROWS)
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
    group_name=GROUP,
    kinds={"ccxt", "parquet"},
    # Transient exchange errors are retried with backoff inside the source client.
    pool="exchange_api",
)
def raw_ohlcv(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
) -> dg.MaterializeResult:
    """Untouched OHLCV rows from the source, one Parquet file per symbol and month."""
    symbol, month = symbol_and_month(context.partition_key)
    market = market_data.resolve()
    timeframe = market.base_timeframe
    start_ms, end_ms = month_bounds_ms(month)
    # The current month is still growing: fetch up to the last bar that has closed.
    now_ms = int(time.time() * 1000)
    end_ms = min(end_ms, now_ms - now_ms % timeframe_ms(timeframe))
    started = time.perf_counter()
    raw = market.client().fetch_ohlcv(symbol, timeframe, start_ms, end_ms)
    path = lake.lake.write_month("raw", market.lake_exchange, symbol, timeframe, month, raw)
    context.log.info(f"{symbol} {month}: {raw.height} raw rows -> {path}")
    return dg.MaterializeResult(
        metadata={
            **_span_metadata(raw),
            "source": market.source,
            "exchange": market.lake_exchange,
            "timeframe": timeframe,
            "download_seconds": round(time.perf_counter() - started, 3),
            "path": dg.MetadataValue.path(str(path)),
            "preview": _preview(raw),
        }
    )


def _check_result(check: QualityCheck) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        check_name=check.name, passed=check.passed, severity=severity, metadata=check.metadata
    )


@dg.asset(
    partitions_def=market_data_partitions,
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
    symbol, month = symbol_and_month(context.partition_key)
    market = market_data.resolve()
    base = market.base_timeframe
    exchange = market.lake_exchange
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
    return dg.MaterializeResult(
        metadata={
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
            "preview": _preview(written[base]),
        },
        check_results=[
            _check_result(check)
            for check in check_bars(written, base, market.max_gap_ratio, report.rejected_rows)
        ],
    )


@dg.asset(
    partitions_def=market_data_partitions,
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
    symbol, month = symbol_and_month(context.partition_key)
    market = market_data.resolve()
    exchange = market.lake_exchange
    frames = {
        tf: lake.lake.read_month("bars", exchange, symbol, tf, month) for tf in market.timeframes
    }
    lake_counts = {tf: f.height for tf, f in frames.items()}
    with warehouse.open() as store:
        written = store.replace_month(exchange, symbol, month, frames)
        stored = store.month_row_counts(exchange, symbol, month)
    stored_all = {tf: stored.get(tf, 0) for tf in lake_counts}
    context.log.info(f"{symbol} {month}: {written} rows upserted into {OHLCV_TABLE} ({store.kind})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "rows_by_timeframe": stored_all,
            "warehouse": store.kind,
            "exchange": exchange,
            "symbol": symbol,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="lake_and_warehouse_row_counts_equal",
                passed=stored_all == lake_counts and set(stored) <= set(lake_counts),
                metadata={"lake": lake_counts, "warehouse": stored},
            )
        ],
    )


market_data_assets = [raw_ohlcv, bars, ohlcv]
