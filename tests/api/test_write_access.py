"""Write access: with MAESTRO_API_TOKEN set, endpoints that start work need the bearer token;
reads stay open. (That nothing reaches Dagster without it, and that the right token launches a
run, is checked against a real webserver in test_submit.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.config import load_api_config
from api.main import create_app
from tests.api.conftest import STUDY_ID, TestClient, api_config, free_port
from tests.support.processes import COMMAND_SECONDS

TOKEN = "s3cret-token-for-tests"
SUBMIT = "/api/v2/optimization"
VALID = {"strategy": "ema_cross", "symbol": "BTC/USD", "timeframe": "1h", "n_trials": 5}


@pytest.fixture(scope="module")
def guarded(published, tmp_path_factory):
    """The API with a token, and no Dagster webserver behind it: a request past the guard gets
    503 (no webserver), one stopped by it 401."""
    app = create_app(published, api_config(tmp_path_factory.mktemp("guarded"), api_token=TOKEN))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, "Bearer"),
        ({"Authorization": "Bearer wrong-token"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {TOKEN}x"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Basic {TOKEN}"}, "Bearer"),
        ({"Authorization": TOKEN}, "Bearer"),
    ],
    ids=["missing", "wrong", "longer", "prefix", "basic-scheme", "no-scheme"],
)
def test_missing_or_wrong_token_gets_401_with_a_bearer_challenge(guarded, headers, challenge):
    response = guarded.post(SUBMIT, json=VALID, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == challenge
    assert "MAESTRO_API_TOKEN" in response.json()["detail"]


def test_the_guard_answers_before_the_body_is_judged(guarded):
    """Without the token, a malformed submission learns nothing about what would be valid."""
    response = guarded.post(SUBMIT, json={"strategy": "no_such_rule"})
    assert response.status_code == 401


def test_the_right_token_passes_the_guard(guarded):
    response = guarded.post(SUBMIT, json=VALID, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503  # past the guard: no Dagster webserver in this test
    assert "no Dagster webserver answers" in response.json()["detail"]


def test_reads_stay_open(guarded):
    for path in (
        "/api/v2/health",
        "/api/v2/strategies",
        "/api/v2/bars/BTC-USD?timeframe=1h",
        "/api/v2/optimization",
        f"/api/v2/optimization/{STUDY_ID}",
        "/api/v2/leaderboard",
    ):
        assert guarded.get(path).status_code == 200, path


def test_without_a_token_configured_writes_are_open(client):
    response = client.post(SUBMIT, json=VALID)
    assert response.status_code == 503  # the loopback default: no guard, no webserver


def test_openapi_declares_the_bearer_scheme_on_writes_only(guarded):
    schema = guarded.get("/api/v2/openapi.json").json()
    ((name, scheme),) = schema["components"]["securitySchemes"].items()
    assert (scheme["type"], scheme["scheme"].lower()) == ("http", "bearer")
    assert schema["paths"]["/api/v2/optimization"]["post"]["security"] == [{name: []}]
    assert "401" in schema["paths"]["/api/v2/optimization"]["post"]["responses"]
    gets = [
        op for path in schema["paths"].values() for method, op in path.items() if method == "get"
    ]
    assert gets and not [op for op in gets if "security" in op]


def test_the_token_comes_from_the_environment_and_stays_out_of_reprs():
    config = load_api_config({"MAESTRO_API_TOKEN": f"  {TOKEN}\n"})
    assert config.api_token == TOKEN
    assert TOKEN not in repr(config)
    assert load_api_config({"MAESTRO_API_TOKEN": "  "}).api_token is None
    assert load_api_config({}).api_token is None


def test_serve_refuses_a_public_address_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "MAESTRO_API_TOKEN"}
    maestro = Path(sys.executable).with_name("maestro")
    # On success the command stops before binding anything; the timeout bounds a regression.
    completed = subprocess.run(
        [str(maestro), "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
    )
    assert completed.returncode == 2
    assert "refusing to serve on 0.0.0.0 without MAESTRO_API_TOKEN" in completed.stderr
    assert "--allow-anonymous-writes" in completed.stderr
