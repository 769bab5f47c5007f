"""docker-compose.yml cannot run here (no Docker engine): check it against the code instead."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from maestro_pipeline.defs.executors import build_executor
from maestro_pipeline.optimization.storages import is_shared_storage
from maestro_pipeline.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
MAESTRO_SERVICES = [name for name, s in COMPOSE["services"].items() if "build" in s]


def test_every_maestro_service_runs_a_real_command_on_existing_files():
    assert set(MAESTRO_SERVICES) >= {"code-location", "dagster-webserver", "dagster-daemon",
                                     "celery-worker", "optuna-worker", "api"}  # fmt: skip
    for name in MAESTRO_SERVICES:
        words = shlex.split(COMPOSE["services"][name]["command"])
        assert words[0] in {"dagster", "dagster-webserver", "dagster-daemon", "dagster-celery",
                            "maestro"}, name  # fmt: skip
        for flag in ("-w", "-y"):
            if flag in words:
                assert (REPO_ROOT / words[words.index(flag) + 1]).is_file(), (name, flag)


def test_the_compose_environment_is_valid_maestro_settings():
    for name in MAESTRO_SERVICES:
        env = {k: str(v) for k, v in COMPOSE["services"][name]["environment"].items()}
        settings = load_settings(env)
        assert settings.executor == "celery" and settings.warehouse == "questdb"
        assert is_shared_storage(settings.study_storage), "workers need a shared Optuna storage"
        assert env["MAESTRO_DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")
        assert build_executor(settings).name == "celery"
