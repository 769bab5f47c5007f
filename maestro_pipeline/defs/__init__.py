"""The Dagster layer: partitions, resources, assets, checks, jobs and schedules."""

import warnings

import dagster as dg

# Backfill policies (many partitions per run) are used on purpose; Dagster still labels the
# parameter beta and would warn in every process that loads the definitions.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
