"""Where a run's steps execute: Dagster's multiprocess executor on this machine (the default),
or Celery workers on any machine (``MAESTRO_EXECUTOR=celery``, the ``distributed`` extra)."""

from __future__ import annotations

import dagster as dg

from maestro_pipeline.settings import Settings, load_settings


def build_executor(settings: Settings | None = None) -> dg.ExecutorDefinition:
    """The executor of every job, from ``MAESTRO_EXECUTOR``: part of the definitions, so it is
    read when the code location loads.

    With Celery, each step is a task on the ``dagster`` queue of the broker (Redis); workers
    started with ``dagster-celery worker start -A dagster_celery.app -y <config>`` run it
    against the same instance (PostgreSQL storage, see ``deploy/distributed/dagster.yaml``).
    """
    settings = settings or load_settings()
    if settings.executor == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(
            {
                "broker": settings.celery_broker,
                "backend": settings.celery_backend,
                # One task per worker process at a time: a step is a whole study.
                "config_source": {"worker_prefetch_multiplier": 1},
            },
            name="celery",
        )
    return dg.multiprocess_executor
