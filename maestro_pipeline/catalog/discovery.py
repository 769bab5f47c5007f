"""Finding strategies: the built-ins, installed packages and files on MAESTRO_STRATEGY_PATH.

A strategy file is a ``.py`` file that defines ``Strategy`` objects at module level (or lists
them in ``STRATEGIES``); files whose name starts with ``_`` hold shared code and are not loaded
as strategies (the file's directory is on ``sys.path`` while it loads, so ``import _shared``
works). A package exposes strategies through the entry-point group ``maestro.strategies``: the
entry point names a ``Strategy``, a list of them, a module holding them, or a function
returning either.

Nothing a strategy's code does can stop the others from loading: a syntax error, an import
error, an exception or an invalid declaration becomes a broken entry whose error names the
file, the line and the strategy.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import re
import sys
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from maestro_pipeline.catalog.fingerprint import (
    BUILTIN_SHARED_FILES,
    file_fingerprint,
    source_fingerprint,
)
from maestro_pipeline.engine.authoring import Strategy, StrategyDefinitionError

ENTRY_POINT_GROUP = "maestro.strategies"
USER_MODULE_PREFIX = "maestro_user_strategies"
SourceKind = Literal["builtin", "file", "package"]
_NAME_IN_SOURCE = re.compile(r"""\bname\s*=\s*["']([a-z][a-z0-9_]{0,63})["']""")


@dataclass(frozen=True)
class CatalogEntry:
    """One strategy of the catalog: where it was found (builtin, file or package), and the
    strategy or the error that kept it from loading."""

    name: str
    kind: SourceKind
    source: str
    strategy: Strategy | None = None
    error: str | None = None

    @property
    def version(self) -> str | None:
        return self.strategy.code_version if self.strategy is not None else None

    def describe(self) -> dict[str, Any]:
        """JSON-friendly: the strategy's declaration (when it loads), its source and error."""
        base: dict[str, Any] = (
            self.strategy.describe()
            if self.strategy is not None
            else {
                "name": self.name,
                "description": "",
                "defaults": {},
                "space": {},
                "constraints": [],
                "warmup": None,
                "version": None,
            }
        )
        return {**base, "source_kind": self.kind, "source": self.source, "error": self.error}


def describe_error(exc: BaseException, home: str | None) -> tuple[str, str]:
    """('<file>, line <n>', '<what went wrong>') for an exception raised while loading.

    The line is in ``home`` (the strategy's file) when the traceback passes through it; the
    line that raised is added when it is elsewhere (a module it imports, a library).
    """
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}", f"SyntaxError: {exc.msg}"
    if isinstance(exc, StrategyDefinitionError):
        # "strategy 'x': parameter 'fast': ..." -> the part after the name
        message = str(exc).split(": ", 1)[-1]
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == home]
        where = f"{home}, line {frames[-1].lineno}" if frames else str(home)
        return where, message
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")
    ]
    message = f"{type(exc).__name__}: {exc}"
    own = [f for f in frames if home is not None and f.filename == home]
    if own:
        if frames and frames[-1] is not own[-1]:
            message += f" (raised in {frames[-1].filename}, line {frames[-1].lineno})"
        return f"{own[-1].filename}, line {own[-1].lineno}", message
    if frames:
        return f"{frames[-1].filename}, line {frames[-1].lineno}", message
    return home or "unknown file", message


def _broken(
    name: str, kind: SourceKind, source: str, exc: BaseException, home: str | None
) -> CatalogEntry:
    where, message = describe_error(exc, home)
    return CatalogEntry(name, kind, source, error=f"strategy '{name}' ({where}): {message}")


def _names_in_source(text: str) -> list[str]:
    """Strategy names a file declares (``Strategy(name="...")``), even when it cannot run."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return list(dict.fromkeys(_NAME_IN_SOURCE.findall(text)))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if (
                    keyword.arg == "name"
                    and isinstance(keyword.value, ast.Constant)
                    and isinstance(keyword.value.value, str)
                ):
                    names.append(keyword.value.value)
    return list(dict.fromkeys(names))


def strategies_in(namespace: Any) -> list[Strategy]:
    """The Strategy objects of a module (top level and ``STRATEGIES``), a list, or one."""
    if isinstance(namespace, types.ModuleType):
        values = [*vars(namespace).values(), *(getattr(namespace, "STRATEGIES", None) or ())]
    elif isinstance(namespace, list | tuple):
        values = list(namespace)
    else:
        values = [namespace]
    found: dict[int, Strategy] = {}
    for value in values:
        if isinstance(value, Strategy):
            found.setdefault(id(value), value)
    return list(found.values())


def builtin_strategies() -> Iterator[CatalogEntry]:
    """The 22 strategies shipped with Maestro, each versioned by its family's module."""
    from maestro_pipeline.engine.strategies import ALL_STRATEGIES

    shared = [path.read_bytes() for path in BUILTIN_SHARED_FILES]
    for strategy in ALL_STRATEGIES:
        family = Path(strategy.signal_function.__code__.co_filename)
        version = source_fingerprint(strategy.name, [family.read_bytes(), *shared])
        yield CatalogEntry(
            strategy.name,
            "builtin",
            "builtin",
            dataclasses.replace(strategy, code_version=version),
        )


def _module_name(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    return f"{USER_MODULE_PREFIX}.{stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def load_file(path: Path) -> list[CatalogEntry]:
    """The strategies of one file (fresh: the file is executed again), or its error."""
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [CatalogEntry(path.stem, "file", source, error=f"{source}: cannot read: {exc}")]
    text = data.decode("utf-8", errors="replace")
    guessed = _names_in_source(text) or [path.stem]
    name = _module_name(path)
    directory = str(path.parent)
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)
    try:
        if USER_MODULE_PREFIX not in sys.modules:
            sys.modules[USER_MODULE_PREFIX] = types.ModuleType(USER_MODULE_PREFIX)
        module = types.ModuleType(name)
        module.__file__ = source
        # dataclasses and pickling look modules up by name while the file runs.
        sys.modules[name] = module
        code = compile(data, source, "exec")
        exec(code, module.__dict__)
        found = strategies_in(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        return [_broken(n, "file", source, exc, source) for n in guessed]
    finally:
        if added and directory in sys.path:
            sys.path.remove(directory)
    if not found:
        message = (
            f"{source}: defines no Strategy; declare one at module level (files whose name "
            "starts with '_' hold shared code and are skipped)"
        )
        return [CatalogEntry(path.stem, "file", source, error=message)]
    results = []
    for strategy in found:
        files = {source, strategy.signal_function.__code__.co_filename} - {"<string>"}
        readable = [f for f in files if Path(f).is_file()]
        version = file_fingerprint(strategy.name, readable) if readable else None
        versioned = dataclasses.replace(strategy, code_version=version)
        results.append(CatalogEntry(strategy.name, "file", source, versioned))
    return results


def strategy_files(path_value: str) -> tuple[list[Path], list[str]]:
    """The strategy files of a MAESTRO_STRATEGY_PATH value, and problems with its entries."""
    files: list[Path] = []
    problems: list[str] = []
    for entry in filter(None, (part.strip() for part in path_value.split(":"))):
        path = Path(entry).expanduser().resolve()
        if path.is_dir():
            files.extend(
                p for p in sorted(path.glob("*.py")) if not p.name.startswith("_") and p.is_file()
            )
        elif path.is_file() and path.suffix == ".py":
            files.append(path)
        else:
            problems.append(
                f"MAESTRO_STRATEGY_PATH names {entry!r}, which is neither a directory nor a "
                ".py file"
            )
    return list(dict.fromkeys(files)), problems


def package_strategies() -> Iterator[CatalogEntry]:
    """Strategies installed packages declare in the ``maestro.strategies`` entry-point group."""
    points = sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (getattr(ep.dist, "name", "") or "", ep.name),
    )
    for point in points:
        dist = point.dist
        label = f"{dist.name} {dist.version}" if dist is not None else "an installed package"
        source = f"package {label} (entry point {point.name} = {point.value})"
        module_name = point.value.split(":")[0]
        spec = importlib.util.find_spec(module_name.split(".")[0])
        home = spec.origin if spec is not None else None
        try:
            loaded = point.load()
            if callable(loaded) and not isinstance(loaded, Strategy | types.ModuleType):
                loaded = loaded()
            found = strategies_in(loaded)
        except (Exception, SystemExit) as exc:
            yield _broken(point.name, "package", source, exc, home)
            continue
        if not found:
            yield CatalogEntry(
                point.name, "package", source, error=f"{source}: names no Strategy object"
            )
            continue
        for strategy in found:
            files = [strategy.signal_function.__code__.co_filename]
            module = sys.modules.get(module_name)
            if module is not None and getattr(module, "__file__", None):
                files.append(module.__file__)  # type: ignore[arg-type]
            readable = [f for f in files if Path(f).is_file()]
            version = (
                file_fingerprint(strategy.name, readable)
                if readable
                else source_fingerprint(strategy.name, [label.encode()])
            )
            yield CatalogEntry(
                strategy.name,
                "package",
                source,
                dataclasses.replace(strategy, code_version=version),
            )
