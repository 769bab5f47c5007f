"""The API starts without the heavy libraries: its read paths need none of them, and the routes
that do (submitting a study) import theirs when called."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "vectorbt",
    "quantstats",
    "scipy",
    "matplotlib",
    "plotly",
    "ccxt",
    "numba",
    "pandas",
    "optuna",
    "dagster",
    "dagster_graphql",
)


def _heavy_after(module: str) -> set[str]:
    """The heavy libraries loaded by importing ``module`` in a fresh interpreter."""
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_api_imports_no_heavy_library_beyond_the_strategy_catalog():
    # The catalog (maestro_pipeline.engine.registry) names the strategies in the OpenAPI schema,
    # so the API imports it; whatever else loads comes from api/ itself and must be nothing.
    catalog = _heavy_after("maestro_pipeline.engine.registry")
    api = _heavy_after("api.main")
    assert api <= catalog, f"api.main imports {sorted(api - catalog)} on its own"
