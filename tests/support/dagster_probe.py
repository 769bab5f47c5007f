"""What the Dagster code location sees, printed as JSON: ``python -m tests.support.dagster_probe``.

Run in a fresh process (with MAESTRO_STRATEGY_PATH and DAGSTER_HOME set) because the
definitions read the strategy catalog when they load, as a code location reload does. It
records the strategies' code versions the way the sensor does, then reports the strategy
partitions, the study partitions' stale status (as the Dagster UI computes it) and what the
weekly schedule would re-run.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._time import get_current_datetime

from maestro_pipeline.definitions import defs
from maestro_pipeline.defs.partitions import strategy_partitions
from maestro_pipeline.defs.schedules import weekly_studies_on_new_bars
from maestro_pipeline.defs.strategies import record_strategy_versions, strategy_code
from maestro_pipeline.keys import STUDY_ASSET


def main(study_partitions: list[str]) -> None:
    with dg.DagsterInstance.get() as instance:
        recorded = record_strategy_versions(instance)
        graph = defs.resolve_asset_graph()
        view = AssetGraphView(
            temporal_context=TemporalContext(
                effective_dt=get_current_datetime(), last_event_id=None
            ),
            instance=instance,
            asset_graph=graph,
        )
        resolver = CachingStaleStatusResolver(
            instance=instance, asset_graph=graph, loading_context=view
        )
        stale = {}
        for partition in study_partitions:
            key = dg.AssetKey(STUDY_ASSET)
            causes = resolver.get_stale_causes(key, partition)
            stale[partition] = {
                "status": resolver.get_status(key, partition).value,
                "causes": [
                    f"{c.dependency.asset_key.to_user_string()}[{c.dependency.partition_key}]"
                    for c in causes
                    if c.dependency is not None
                ],
            }
        tick = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requested = weekly_studies_on_new_bars(context)
        schedule = [] if isinstance(requested, dg.SkipReason) else [
            str(r.partition_key) for r in requested
        ]  # fmt: skip
    print(
        json.dumps(
            {
                "strategies": strategy_partitions.get_partition_keys(),
                "strategy_code_description": strategy_code.description,
                "recorded": recorded,
                "stale": stale,
                "schedule": schedule,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
