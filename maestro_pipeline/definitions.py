"""The one Definitions object of Maestro, loaded by ``workspace.yaml``."""

from __future__ import annotations

import dagster as dg

from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.defs.schedules import market_data_job, refresh_latest_bars

defs = dg.Definitions(
    assets=[*market_data_assets],
    jobs=[market_data_job],
    schedules=[refresh_latest_bars],
    resources=build_resources(),
)
