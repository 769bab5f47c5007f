"""Jobs: the units that schedules, backfills and `maestro materialize` run."""

import dagster as dg

from maestro_pipeline.defs.market_data import GROUP as MARKET_DATA_GROUP
from maestro_pipeline.defs.reports import leaderboard, strategy_report
from maestro_pipeline.defs.studies import walk_forward_study
from maestro_pipeline.keys import LEADERBOARD_JOB, MARKET_DATA_JOB, WALK_FORWARD_JOB

# dagster.yaml limits concurrent runs carrying this tag, so a 22-strategy backfill queues
# instead of oversubscribing the cores.
STUDY_WORKLOAD_TAG = {"maestro/workload": "study"}

market_data_job = dg.define_asset_job(
    name=MARKET_DATA_JOB,
    selection=dg.AssetSelection.groups(MARKET_DATA_GROUP),
    description="Download, clean and store bars for one symbol-month.",
)

walk_forward_job = dg.define_asset_job(
    name=WALK_FORWARD_JOB,
    selection=[walk_forward_study, strategy_report],
    tags=STUDY_WORKLOAD_TAG,
    description="Walk-forward study of one strategy on one symbol and timeframe, and its report.",
)

leaderboard_job = dg.define_asset_job(
    name=LEADERBOARD_JOB,
    selection=[leaderboard],
    description="Rank every published study.",
)

all_jobs = [market_data_job, walk_forward_job, leaderboard_job]
