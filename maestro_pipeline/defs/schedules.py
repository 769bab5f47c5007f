"""Schedules that keep bars fresh and studies current."""

import dagster as dg

from maestro_pipeline.defs.jobs import market_data_job, walk_forward_job
from maestro_pipeline.defs.partitions import market_data_partitions, study_key, study_partitions
from maestro_pipeline.defs.strategies import current_versions
from maestro_pipeline.keys import MONTH_DIM, STUDY_ASSET, SYMBOL_DIM
from maestro_pipeline.settings import load_settings


@dg.schedule(
    job=market_data_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    # A live exchange source keeps itself fresh; the fixed sample has nothing new to fetch. The
    # schedule's default status is part of the definition, so it is read when the code loads.
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


def _latest_materialization(
    instance: dg.DagsterInstance, asset: str, partitions: list[str]
) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=partitions), limit=1
    ).records
    return records[0] if records else None


def _studied_version(record: dg.EventLogRecord) -> str | None:
    """The strategy version a study materialization recorded (None before versions existed)."""
    materialization = record.asset_materialization
    value = materialization.metadata.get("strategy_version") if materialization else None
    return getattr(value, "value", value)


@dg.schedule(
    job=walk_forward_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_studies_on_new_bars(context: dg.ScheduleEvaluationContext):
    """Every Monday, re-run the studies whose symbol's bars changed since the study last ran,
    and the studies of strategies whose code changed since."""
    months = market_data_partitions.get_partitions_def_for_dimension(MONTH_DIM).get_partition_keys()
    versions = current_versions()
    bars_updated: dict[str, float | None] = {}
    stamp = context.scheduled_execution_time.strftime("%Y%m%d")
    requests = []
    for partition in study_partitions.get_partition_keys():
        key = study_key(partition)
        if key.symbol not in bars_updated:
            keys = [
                str(dg.MultiPartitionKey({SYMBOL_DIM: key.symbol, MONTH_DIM: m})) for m in months
            ]
            latest_bars = _latest_materialization(context.instance, "bars", keys)
            bars_updated[key.symbol] = latest_bars.timestamp if latest_bars else None
        bars_at = bars_updated[key.symbol]
        study = _latest_materialization(context.instance, STUDY_ASSET, [partition])
        new_bars = bars_at is not None and (study is None or study.timestamp < bars_at)
        new_code = study is not None and _studied_version(study) != versions.get(key.strategy)
        if new_bars or new_code:
            requests.append(dg.RunRequest(run_key=f"{partition}|{stamp}", partition_key=partition))
    return requests or dg.SkipReason(
        "no symbol's bars and no strategy's code changed since the studies last ran"
    )


all_schedules = [refresh_latest_bars, weekly_studies_on_new_bars]
