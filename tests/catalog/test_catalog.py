"""Discovery: built-ins, MAESTRO_STRATEGY_PATH files and entry-point packages; collisions,
broken files and code versions."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

import pytest

from maestro_pipeline.catalog import (
    BrokenStrategyError,
    UnknownStrategyError,
    load_catalog,
)
from maestro_pipeline.engine.registry import strategy_names as builtin_names
from tests.support.strategy_files import (
    IMPORT_ERROR,
    LOOKAHEAD,
    RAISES_ON_SIGNALS,
    SOUND,
    SYNTAX_ERROR,
    line_of,
    write,
)


def test_builtins_come_first_with_their_source_and_a_version() -> None:
    catalog = load_catalog("")
    assert catalog.names() == builtin_names() and len(catalog.names()) == 22
    entry = catalog.entry("ema_cross")
    assert entry is not None and entry.kind == "builtin" and entry.source == "builtin"
    assert entry.version is not None and len(entry.version) == 12
    assert entry.strategy is not None and entry.strategy.code_version == entry.version
    # Strategies of one family share a module, but each has its own version.
    assert len({e.version for e in catalog.entries}) == 22


def test_files_on_the_path_are_loaded_with_their_source(tmp_path) -> None:
    first = write(tmp_path / "a", range_break=SOUND, _shared="X = 1\n")
    second = write(tmp_path / "b", peeks_next_close=LOOKAHEAD)
    catalog = load_catalog(f"{first}:{second}")
    assert catalog.names()[22:] == ["range_break", "peeks_next_close"]
    entry = catalog.entry("range_break")
    assert entry.kind == "file" and entry.source == str(first / "range_break.py")
    assert entry.describe()["source_kind"] == "file"
    assert catalog.get("range_break").validate() == {"window": 24}
    # A single file works too; a path that is neither is reported, not fatal.
    single = load_catalog(f"{second / 'peeks_next_close.py'}:{tmp_path / 'nowhere'}")
    assert single.names()[22:] == ["peeks_next_close"]
    assert "neither a directory nor a .py file" in single.problems[0]


def test_a_strategy_file_can_import_shared_code(tmp_path) -> None:
    shared = "def window():\n    return 30\n"
    text = SOUND.replace("default=24", "default=_shared.window()").replace(
        "from maestro_pipeline", "import _shared\nfrom maestro_pipeline"
    )
    directory = write(tmp_path / "s", range_break=text, _shared=shared)
    assert load_catalog(str(directory)).get("range_break").defaults == {"window": 30}


@pytest.mark.parametrize(
    ("text", "name", "fragment", "message"),
    [
        (SYNTAX_ERROR, "broken_syntax", 'description="Never loads."', "SyntaxError"),
        (IMPORT_ERROR, "import_error", "import no_such", "ModuleNotFoundError"),
        (
            SOUND.replace("default=24", "default=500"),
            "range_break",
            "RANGE_BREAK = Strategy(",
            "parameter 'window': the default must be within [10, 100], got 500",
        ),
        (
            SOUND + "\nraise RuntimeError('bad config')\n",
            "range_break",
            "raise RuntimeError",
            "RuntimeError: bad config",
        ),
    ],
    ids=["syntax", "import", "declaration", "exception"],
)
def test_a_broken_file_is_listed_with_file_line_and_name_and_the_rest_loads(
    tmp_path, text, name, fragment, message
) -> None:
    directory = write(tmp_path / "s", broken=text, peeks_next_close=LOOKAHEAD)
    catalog = load_catalog(str(directory))
    assert catalog.names() == [*builtin_names(), "peeks_next_close"]
    [broken] = catalog.broken()
    path = directory / "broken.py"
    line = line_of(text, fragment)
    expected_name = "broken" if name == "import_error" else name
    assert broken.name == expected_name and broken.source == str(path)
    assert f"strategy '{expected_name}' ({path}, line {line})" in broken.error
    assert message in broken.error
    with pytest.raises(BrokenStrategyError, match="cannot be loaded"):
        catalog.get(expected_name)
    assert broken.describe()["error"] == broken.error


def test_a_file_without_a_strategy_says_so(tmp_path) -> None:
    directory = write(tmp_path / "s", notes="X = 1\n")
    [broken] = load_catalog(str(directory)).broken()
    assert "defines no Strategy" in broken.error and broken.name == "notes"


def test_a_taken_name_is_refused_naming_both_sources(tmp_path) -> None:
    clash = SOUND.replace('name="range_break"', 'name="ema_cross"')
    first = write(tmp_path / "a", range_break=SOUND)
    second = write(tmp_path / "b", copy=SOUND, clash=clash)
    catalog = load_catalog(f"{first}:{second}")
    assert catalog.names().count("range_break") == 1 and catalog.names().count("ema_cross") == 1
    errors = sorted(e.error for e in catalog.broken())
    assert errors == [
        f"strategy 'ema_cross' from {second / 'clash.py'} is refused: the name is taken by "
        "strategy 'ema_cross' from builtin; rename one of them",
        f"strategy 'range_break' from {second / 'copy.py'} is refused: the name is taken by "
        f"strategy 'range_break' from {first / 'range_break.py'}; rename one of them",
    ]
    assert catalog.get("ema_cross").code_version == load_catalog("").get("ema_cross").code_version


def test_editing_a_file_changes_its_version_and_new_files_appear(tmp_path) -> None:
    directory = write(tmp_path / "s", range_break=SOUND)
    before = load_catalog(str(directory)).get("range_break").code_version
    assert load_catalog(str(directory)).get("range_break").code_version == before  # cached
    path = directory / "range_break.py"
    path.write_text(path.read_text().replace("default=24", "default=36"))
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)  # a new modification time, whatever the fs
    edited = load_catalog(str(directory)).get("range_break")
    assert edited.code_version != before and edited.defaults == {"window": 36}
    write(directory, peeks_next_close=LOOKAHEAD)
    assert "peeks_next_close" in load_catalog(str(directory)).names()
    path.unlink()
    with pytest.raises(UnknownStrategyError, match="known strategies: ema_cross"):
        load_catalog(str(directory)).get("range_break")


def test_the_environment_variable_is_the_default_path(tmp_path, monkeypatch) -> None:
    directory = write(tmp_path / "s", range_break=SOUND)
    monkeypatch.setenv("MAESTRO_STRATEGY_PATH", str(directory))
    assert "range_break" in load_catalog().names()
    monkeypatch.delenv("MAESTRO_STRATEGY_PATH")
    assert "range_break" not in load_catalog().names()


def test_a_signal_function_that_raises_loads_and_fails_when_run(tmp_path, btc_1h) -> None:
    from maestro_pipeline.engine.strategy import StrategyError, strategy_signals

    directory = write(tmp_path / "s", raises=RAISES_ON_SIGNALS)
    strategy = load_catalog(str(directory)).get("raises_on_signals")
    with pytest.raises(StrategyError) as raised:
        strategy_signals(btc_1h, strategy, [{}])
    line = line_of(RAISES_ON_SIGNALS, "undefined_name")
    assert str(raised.value).startswith(
        f"strategy 'raises_on_signals' ({directory / 'raises.py'}, line {line}): the signal "
        "function raised NameError"
    )


@pytest.fixture
def installed_package(tmp_path, monkeypatch) -> Path:
    """A package installed the way pip leaves it: its code and a dist-info with entry points."""
    site = tmp_path / "site"
    package = site / "acme_strategies"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SOUND.lstrip().replace("range_break", "acme_breakout"))
    (package / "broken.py").write_text("raise ImportError('acme broke this')\n")
    info = site / "acme_strategies-1.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-strategies\nVersion: 1.2.0\n")
    (info / "entry_points.txt").write_text(
        "[maestro.strategies]\n"
        "breakout = acme_strategies:RANGE_BREAK\n"
        "broken = acme_strategies.broken:NOTHING\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    # Off the path first, then rescan: the next test sees the catalog without the package.
    monkeypatch.undo()
    for name in [m for m in sys.modules if m.startswith("acme_strategies")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    load_catalog("", rescan_packages=True)


def test_installed_packages_contribute_through_entry_points(installed_package) -> None:
    catalog = load_catalog("", rescan_packages=True)
    entry = catalog.entry("acme_breakout")
    assert entry is not None and entry.strategy is not None and entry.kind == "package"
    assert entry.source == (
        "package acme-strategies 1.2.0 (entry point breakout = acme_strategies:RANGE_BREAK)"
    )
    assert entry.version is not None
    [broken] = catalog.broken()
    assert broken.name == "broken" and broken.kind == "package"
    assert "ImportError: acme broke this" in broken.error
    assert str(installed_package / "acme_strategies" / "broken.py") in broken.error
