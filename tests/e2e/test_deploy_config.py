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


def test_questdb_is_pinned_to_the_tested_version_with_the_credentials_maestro_reads():
    questdb = COMPOSE["services"]["questdb"]
    image, _, tag = questdb["image"].partition(":")
    assert image == "questdb/questdb" and tag and tag != "latest"
    assert f"QuestDB {tag}" in (REPO_ROOT / "README.md").read_text()  # stated as tested
    api_env = COMPOSE["services"]["api"]["environment"]
    assert questdb["environment"]["QDB_PG_USER"] == api_env["MAESTRO_QUESTDB_PG_USER"]
    assert questdb["environment"]["QDB_PG_PASSWORD"] == api_env["MAESTRO_QUESTDB_PG_PASSWORD"]


def test_the_published_api_requires_a_token_from_the_environment():
    api = COMPOSE["services"]["api"]
    words = shlex.split(api["command"])
    assert words[:2] == ["maestro", "serve"] and "--allow-anonymous-writes" not in words
    # ${VAR:?message}: compose refuses to start while the variable is unset or empty.
    assert api["environment"]["MAESTRO_API_TOKEN"].startswith("${MAESTRO_API_TOKEN:?")
