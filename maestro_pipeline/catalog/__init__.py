"""The strategy catalog: the built-ins, installed packages and the user's strategy files.

Every layer that needs a strategy by name (the CLI, the Dagster definitions, the API, the
Optuna workers) asks this catalog. It reads the files on ``MAESTRO_STRATEGY_PATH``
(``:``-separated directories of ``.py`` files, or files) and the entry-point group
``maestro.strategies``, versions each strategy by a fingerprint of its source, refuses a name
already taken (naming both sources) and keeps broken strategies listed with their error
instead of failing. Loading imports no numpy, numba or vectorbt for the built-ins.

The catalog is cached per process and re-read when a strategy file is added, removed or
changed, so a long-running API sees new strategies at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from maestro_pipeline.catalog.discovery import (
    ENTRY_POINT_GROUP,
    CatalogEntry,
    builtin_strategies,
    load_file,
    package_strategies,
    strategy_files,
)
from maestro_pipeline.engine.authoring import Strategy

__all__ = [
    "ENTRY_POINT_GROUP",
    "STRATEGY_PATH_ENV",
    "BrokenStrategyError",
    "Catalog",
    "CatalogEntry",
    "UnknownStrategyError",
    "get_strategy",
    "load_catalog",
    "strategy_names",
]

STRATEGY_PATH_ENV = "MAESTRO_STRATEGY_PATH"


class UnknownStrategyError(KeyError):
    """No strategy has this name; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class BrokenStrategyError(KeyError):
    """The strategy exists but cannot be loaded; the message names its file and line."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Catalog:
    """Every strategy found, in order: built-ins, packages, then strategy files."""

    entries: tuple[CatalogEntry, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)

    def names(self) -> list[str]:
        """Names of the strategies that load."""
        return [e.name for e in self.entries if e.strategy is not None]

    def strategies(self) -> list[Strategy]:
        return [e.strategy for e in self.entries if e.strategy is not None]

    def broken(self) -> list[CatalogEntry]:
        return [e for e in self.entries if e.strategy is None]

    def entry(self, name: str) -> CatalogEntry | None:
        """The loaded strategy called ``name``, else a broken entry of that name, else None."""
        matches = [e for e in self.entries if e.name == name]
        return next((e for e in matches if e.strategy is not None), matches[0] if matches else None)

    def get(self, name: str) -> Strategy:
        """The strategy called ``name``.

        Raises:
            UnknownStrategyError: no such strategy (the message lists the known ones).
            BrokenStrategyError: it cannot be loaded (the message says why, where).
        """
        entry = self.entry(name)
        if entry is None:
            raise UnknownStrategyError(
                f"unknown strategy {name!r}; known strategies: {', '.join(self.names())}"
            )
        if entry.strategy is None:
            raise BrokenStrategyError(f"strategy {name!r} cannot be loaded: {entry.error}")
        return entry.strategy


def _assemble(found: Iterable[CatalogEntry], problems: list[str]) -> Catalog:
    """Entries in order; a name taken by an earlier strategy is refused naming both sources."""
    entries: list[CatalogEntry] = []
    taken: dict[str, CatalogEntry] = {}
    for item in found:
        if item.strategy is not None and item.name in taken:
            first = taken[item.name]
            same_code = (
                first.strategy is not None
                and first.strategy.signal_function is item.strategy.signal_function
            )
            if same_code:
                continue  # the same strategy re-exported by another module
            refusal = (
                f"strategy '{item.name}' from {item.source} is refused: the name is taken by "
                f"strategy '{item.name}' from {first.source}; rename one of them"
            )
            entries.append(replace(item, strategy=None, error=refusal))
            continue
        if item.strategy is not None:
            taken[item.name] = item
        entries.append(item)
    return Catalog(tuple(entries), tuple(problems))


_lock = threading.Lock()
_builtins: list[CatalogEntry] | None = None
_packages: list[CatalogEntry] | None = None
_files: dict[tuple[str, int, int], list[CatalogEntry]] = {}
_cached: tuple[Any, Catalog] | None = None


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def load_catalog(
    strategy_path: str | None = None, *, packages: bool = True, rescan_packages: bool = False
) -> Catalog:
    """The catalog for ``strategy_path`` (default: ``$MAESTRO_STRATEGY_PATH``).

    Cached: only files that changed since the last call (by modification time and size) are
    executed again. Installed packages are read once per process (``rescan_packages`` reads
    them again, after installing one).
    """
    global _builtins, _packages, _cached
    path_value = os.environ.get(STRATEGY_PATH_ENV, "") if strategy_path is None else strategy_path
    files, problems = strategy_files(path_value)
    keys = tuple(_file_key(p) for p in files)
    with _lock:
        if rescan_packages:
            _packages, _cached = None, None
        signature = (path_value, keys, packages)
        if _cached is not None and _cached[0] == signature:
            return _cached[1]
        if _builtins is None:
            _builtins = list(builtin_strategies())
        if packages and _packages is None:
            _packages = list(package_strategies())
        found: list[CatalogEntry] = [*_builtins, *((_packages or []) if packages else [])]
        for path, key in zip(files, keys, strict=True):
            if key not in _files:
                _files[key] = load_file(path)
            found.extend(_files[key])
        for stale in set(_files) - set(keys):  # edited or removed files
            del _files[stale]
        catalog = _assemble(found, problems)
        _cached = (signature, catalog)
        return catalog


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name`` in the current catalog (see ``Catalog.get``)."""
    return load_catalog().get(name)


def strategy_names() -> list[str]:
    """Names of the current catalog's strategies that load, in catalog order."""
    return load_catalog().names()
