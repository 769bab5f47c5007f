"""vectorbt's numba kernels without importing the whole of vectorbt.

``import vectorbt`` runs the package ``__init__`` files, which import every sub-package and
with them scipy, matplotlib, plotly, quantstats, ccxt...: seconds (15 s without bytecode) before
the first bar is simulated. The kernels the engine runs live in a few leaf modules
(``vectorbt.portfolio.nb``, ``vectorbt.records.nb``, ``vectorbt.generic.nb``,
``vectorbt.portfolio.enums``) whose own imports reach only other leaf modules. ``kernels()``
imports those leaves, unchanged, under placeholder packages: module objects built from each
package's real spec (name, file, ``__path__``) whose ``__init__`` has not run yet.

The placeholders stay in ``sys.modules`` as the package objects for the rest of the process,
so the full package remains available, with one copy of every module:

* ``import vectorbt`` returns the placeholder, and a sub-module import works as usual;
* the first access to a name only a package ``__init__`` defines (``vectorbt.Portfolio``,
  ``from vectorbt.portfolio import Portfolio``...) runs every pending ``__init__`` in place,
  sub-packages first, reusing the modules already loaded (``complete_vectorbt()`` does the
  same explicitly), so vectorbt then holds exactly what ``import vectorbt`` gives;
* when vectorbt is already imported, ``kernels()`` simply returns its modules.

The leaf modules must stay importable by name: numba, when it loads a cached function that
calls vectorbt's kernels, re-imports their modules with ``importlib.import_module``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

# The packages the kernel modules (and the modules they import) live in, parents first.
# vectorbt.base is not among them: its __init__ only imports array_wrapper, which the kernels
# need anyway, and importing array_wrapper before reshape_fns is the order their import cycle
# requires.
_PACKAGES = (
    "vectorbt",
    "vectorbt.generic",
    "vectorbt.portfolio",
    "vectorbt.records",
    "vectorbt.returns",
    "vectorbt.utils",
)
_MARK = "__maestro_placeholder__"
# Placeholder packages whose __init__ has not run yet, by name.
_pending: dict[str, ModuleType] = {}


class Kernels(NamedTuple):
    """The vectorbt modules the engine calls."""

    portfolio_nb: ModuleType
    records_nb: ModuleType
    generic_nb: ModuleType
    enums: ModuleType


def kernels() -> Kernels:
    """vectorbt's portfolio, records and generic kernels and the portfolio enums.

    Imports only the modules they need when vectorbt is not imported yet (see the module
    docstring); returns the same module objects ``import vectorbt`` would give.
    """
    placeholders = "vectorbt" not in sys.modules
    if placeholders:
        _install_placeholders()
    try:
        loaded = Kernels(
            importlib.import_module("vectorbt.portfolio.nb"),
            importlib.import_module("vectorbt.records.nb"),
            importlib.import_module("vectorbt.generic.nb"),
            importlib.import_module("vectorbt.portfolio.enums"),
        )
    except BaseException:
        if placeholders:
            _remove_placeholders()
        raise
    if placeholders:
        # Hooked only now: `from package import name` probes packages with hasattr(), and
        # loading the kernels needs no completion.
        for name, module in _pending.items():
            module.__dict__["__getattr__"] = _completing_getattr(name)
    return loaded


def complete_vectorbt() -> ModuleType:
    """The full ``vectorbt`` package: runs the ``__init__`` files ``kernels()`` skipped."""
    pending = dict(_pending)
    _pending.clear()
    for module in pending.values():
        module.__dict__.pop("__getattr__", None)
        module.__dict__.pop(_MARK, None)
    # Sub-packages before their parents: a package __init__ imports its modules and names of
    # its own sub-packages (re-exporting theirs with ``import *``), never the reverse.
    for name in sorted(pending, key=lambda n: n.count("."), reverse=True):
        module = pending[name]
        module.__spec__.loader.exec_module(module)  # type: ignore[union-attr]
    return importlib.import_module("vectorbt")


def is_placeholder(module: ModuleType) -> bool:
    """Whether ``module`` is a vectorbt package whose ``__init__`` has not run yet."""
    return _MARK in vars(module)


def _install_placeholders() -> None:
    # find_spec of a top-level name locates the package without executing it.
    root = importlib.util.find_spec("vectorbt")
    if root is None or root.origin is None:
        raise ModuleNotFoundError("No module named 'vectorbt'", name="vectorbt")
    root_dir = os.path.dirname(root.origin)
    for name in _PACKAGES:
        directory = os.path.join(root_dir, *name.split(".")[1:])
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(directory, "__init__.py"), submodule_search_locations=[directory]
        )
        if spec is None:
            raise ImportError(f"cannot locate the package {name} in {directory}", name=name)
        module = importlib.util.module_from_spec(spec)
        module.__dict__[_MARK] = True
        sys.modules[name] = module
        _pending[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


def _remove_placeholders() -> None:
    """Undo a failed ``kernels()``: no half-initialised vectorbt is left behind."""
    _pending.clear()
    for name in [n for n in sys.modules if n == "vectorbt" or n.startswith("vectorbt.")]:
        del sys.modules[name]


def _completing_getattr(package: str) -> Callable[[str], object]:
    """A module ``__getattr__`` (PEP 562) for a placeholder package.

    A sub-module is imported on its own, as the import system would. Any other public name is
    one the package ``__init__`` defines, so every pending ``__init__`` runs first.
    """

    def __getattr__(name: str) -> object:
        # Dunder probes (pickle, inspect, copy...) must not import all of vectorbt.
        if name.startswith("__"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        complete_vectorbt()
        return getattr(sys.modules[package], name)

    return __getattr__
