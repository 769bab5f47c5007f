"""Property-based fuzzing of the OpenAPI schema (schemathesis): no server errors, and every
response conforms to its documented status codes, content type and schema."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from api.context import ApiContext
from api.main import create_app
from maestro_pipeline.settings import Settings
from tests.api.conftest import api_config

# The schema is loaded at collection time, before the materialized fixture exists; the app reads
# its data directory per request, so the fixture swaps the context in before any case runs.
# The app has a write token, as when published: cases carry it, and schemathesis checks that a
# request without it is refused.
TOKEN = "fuzz-write-token"
_scratch = Path(tempfile.mkdtemp(prefix="maestro-fuzz-"))
atexit.register(shutil.rmtree, _scratch, True)
fuzz_app = create_app(Settings(data_dir=_scratch / "data"), api_config(_scratch, api_token=TOKEN))
schema = schemathesis.openapi.from_asgi("/api/v2/openapi.json", fuzz_app)


@pytest.fixture(autouse=True, scope="module")
def _serve_the_materialized_fixture(app):
    fuzz_app.state.context = ApiContext(app.state.context.settings, fuzz_app.state.context.config)
    assert isinstance(fuzz_app.state.context, ApiContext)


# Checks that cannot hold here, and why:
# - positive_data_acceptance on /bars and POST /backtest: "start must be before end" spans two
#   fields, which OpenAPI cannot express (nor "a setting engine v1 cannot express", nor a
#   strategy's own parameter bounds), so schema-valid requests may rightly get a 422.
# - unsupported_method: GET and POST /optimization are two routes; Starlette's 405 lists the
#   methods of the first one only.
# - not_a_server_error on POST /optimization: no Dagster webserver listens in this test, so the
#   documented answer is 503 (asserted below instead).
RELAXED = {
    ("GET", "/api/v2/bars/{symbol}"): [positive_data_acceptance],
    ("POST", "/api/v2/backtest"): [positive_data_acceptance],
    ("POST", "/api/v2/optimization"): [not_a_server_error],
}


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    relaxed = RELAXED.get((case.method.upper(), case.operation.path), [])
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    case.validate_response(response, excluded_checks=[unsupported_method, *relaxed])
    if not_a_server_error in relaxed and response.status_code >= 500:
        assert response.status_code == 503
        assert "no Dagster webserver answers" in response.json()["detail"]
