"""Jobs and schedules that keep market data fresh."""

from __future__ import annotations

import dagster as dg

from maestro_pipeline.defs.market_data import GROUP
from maestro_pipeline.defs.partitions import MONTH_DIM, SYMBOL_DIM, market_data_partitions
from maestro_pipeline.settings import load_settings

market_data_job = dg.define_asset_job(
    name="market_data_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Download, clean and store bars for one symbol-month.",
)


@dg.schedule(
    job=market_data_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    # A live exchange source keeps itself fresh; the fixed sample has nothing new to fetch.
    default_status=(
        dg.DefaultScheduleStatus.RUNNING
        if load_settings().source == "ccxt"
        else dg.DefaultScheduleStatus.STOPPED
    ),
)
def refresh_latest_bars(context: dg.ScheduleEvaluationContext):
    """Every hour, re-download the latest month of every configured symbol."""
    months = market_data_partitions.get_partitions_def_for_dimension(MONTH_DIM)
    latest = months.get_last_partition_key()
    if latest is None:
        return dg.SkipReason("no month partition has started yet")
    stamp = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
    symbols = market_data_partitions.get_partitions_def_for_dimension(SYMBOL_DIM)
    return [
        dg.RunRequest(
            run_key=f"{symbol}|{latest}|{stamp}",
            partition_key=dg.MultiPartitionKey({SYMBOL_DIM: symbol, MONTH_DIM: latest}),
        )
        for symbol in symbols.get_partition_keys()
    ]
