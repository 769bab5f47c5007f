"""The Dagster layer: partitions, resources, assets, checks, jobs and schedules."""
