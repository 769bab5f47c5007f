"""The one Definitions object of Maestro, loaded by ``workspace.yaml``."""

import dagster as dg

from maestro_pipeline.defs.executors import build_executor
from maestro_pipeline.defs.jobs import all_jobs
from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.reports import report_assets
from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.defs.schedules import all_schedules
from maestro_pipeline.defs.strategies import strategy_assets, strategy_sensors
from maestro_pipeline.defs.studies import study_assets

defs = dg.Definitions(
    assets=[*market_data_assets, *strategy_assets, *study_assets, *report_assets],
    jobs=all_jobs,
    schedules=all_schedules,
    sensors=strategy_sensors,
    resources=build_resources(),
    executor=build_executor(),
)
