"""What the code imports, an installation without the test tools has.

`make run` installs the project without its `dev` extra; a module of `maestro_pipeline` or
`api` that imports a library only the tests install works in CI and fails on a user's machine.
Every third-party module they import must come from a distribution that the runtime
dependencies (or the documented `distributed` extra, for scale-out) pull in.
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "maestro-pipeline"
OURS = {"maestro_pipeline", "api", "tests"}
RUNTIME_EXTRAS = {"distributed"}


def _closure(name: str, extras: set[str]) -> set[str]:
    """The distribution ``name`` (with ``extras``) and everything it requires, transitively."""
    seen: set[str] = set()
    stack = [(name, frozenset(extras))]
    while stack:
        dist, wanted = stack.pop()
        key = canonicalize_name(dist)
        if key in seen:
            continue
        seen.add(key)
        try:
            lines = requires(dist) or []
        except PackageNotFoundError:
            continue
        for line in lines:
            req = Requirement(line)
            marker = req.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in wanted or {""}):
                stack.append((req.name, frozenset(req.extras)))
    return seen


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_library_the_code_imports_is_a_runtime_dependency():
    installed = _closure(PROJECT, RUNTIME_EXTRAS)
    providers = packages_distributions()
    missing: dict[str, set[str]] = {}
    for package in ("maestro_pipeline", "api"):
        for path in (ROOT / package).rglob("*.py"):
            for module in _imported_modules(path) - OURS - set(sys.stdlib_module_names):
                dists = {canonicalize_name(d) for d in providers.get(module, [])}
                if not dists & installed:
                    missing.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not installed by `make run`: {missing}"


def test_the_check_sees_a_test_only_library():
    """The closure leaves out the dev extra: pytest is not a runtime dependency."""
    installed = _closure(PROJECT, RUNTIME_EXTRAS)
    assert "pytest" not in installed
    assert {"vectorbt", "optuna", "backtrader", "dagster-celery"} <= installed
