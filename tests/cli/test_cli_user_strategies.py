"""User strategies through the real commands: `maestro strategies`, `check`, `backtest` and
`walk-forward`, with MAESTRO_STRATEGY_PATH pointing at a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from maestro_pipeline.cli import app
from maestro_pipeline.sources.sample import SAMPLE_FILES
from tests.support.strategy_files import (
    LOOKAHEAD,
    RAISES_ON_SIGNALS,
    SOUND,
    SYNTAX_ERROR,
    UNSTABLE,
    line_of,
    write,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def strategies(tmp_path_factory) -> Path:
    return write(
        tmp_path_factory.mktemp("strategies"),
        range_break=SOUND,
        peeks_next_close=LOOKAHEAD,
        above_first_close=UNSTABLE,
        broken=SYNTAX_ERROR,
        raises=RAISES_ON_SIGNALS,
    )


@pytest.fixture(autouse=True)
def strategy_path(strategies, monkeypatch) -> None:
    monkeypatch.setenv("MAESTRO_STRATEGY_PATH", str(strategies))


@pytest.fixture(scope="module")
def five_months(tmp_path_factory) -> Path:
    """Five months of the real 30-minute BTC/USD sample."""
    path = tmp_path_factory.mktemp("bars") / "btc_30m.parquet"
    pl.read_parquet(SAMPLE_FILES["BTC/USD"]).tail(2 * 24 * 150).write_parquet(path)
    return path


def test_strategies_lists_user_strategies_with_their_source_and_the_broken_one(strategies):
    result = runner.invoke(app, ["strategies", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in orjson.loads(result.stdout)}
    assert len([e for e in listed.values() if e["source_kind"] == "builtin"]) == 22
    mine = listed["range_break"]
    assert mine["source"] == str(strategies / "range_break.py") and mine["source_kind"] == "file"
    assert mine["defaults"] == {"window": 24} and mine["warmup"] == 25
    assert len(mine["version"]) == 12
    broken = listed["broken_syntax"]
    line = line_of(SYNTAX_ERROR, "description=")
    assert broken["error"].startswith(
        f"strategy 'broken_syntax' ({strategies / 'broken.py'}, line {line}): SyntaxError"
    )
    table = runner.invoke(app, ["strategies"])
    assert table.exit_code == 0, table.output
    assert "26 strategies, 1 broken" in table.stdout and "range_break" in table.stdout


def test_listing_the_catalog_imports_no_numeric_library(strategies):
    """`maestro strategies` stays a sub-second command: built-ins list without numpy or numba."""
    code = (
        "import sys\n"
        "from maestro_pipeline.cli import app\n"
        "try:\n"
        "    app(['strategies', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('numpy', 'numba', 'vectorbt', 'pandas', 'polars', 'quantstats', 'ccxt')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "MAESTRO_STRATEGY_PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert len(orjson.loads(done.stdout)) == 22


def test_check_passes_a_sound_strategy(five_months):
    result = runner.invoke(app, ["check", "range_break", "--data", str(five_months), "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["passed"] is True
    assert [c["name"] for c in report["checks"]] == ["hygiene", "lookahead", "warmup"]
    assert 24 * 145 < report["n_bars"] < 24 * 155


@pytest.mark.parametrize(
    ("name", "failed", "words"),
    [
        ("peeks_next_close", "lookahead", "with the history ending at bar"),
        ("above_first_close", "warmup", "with a history starting at bar"),
    ],
)
def test_check_fails_biased_strategies_naming_the_bar(five_months, name, failed, words):
    result = runner.invoke(app, ["check", name, "--data", str(five_months), "--json"])
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.stdout)
    check = next(c for c in report["checks"] if c["name"] == failed)
    assert report["passed"] is False and check["passed"] is False
    finding = check["finding"]
    assert f"bar {finding['bar']} ({finding['time']})" in check["summary"]
    assert words in check["summary"]
    table = runner.invoke(app, ["check", name, "--data", str(five_months)])
    assert (
        table.exit_code == 1 and "FAIL" in table.stdout and f"bar {finding['bar']}" in table.stdout
    )


def test_check_of_a_broken_or_unknown_strategy(strategies):
    broken = runner.invoke(app, ["check", "broken_syntax", "--json"])
    assert broken.exit_code == 1
    assert str(strategies / "broken.py") in orjson.loads(broken.stdout)["error"]
    unknown = runner.invoke(app, ["check", "no_such_strategy"])
    assert unknown.exit_code == 2
    assert "known strategies: ema_cross" in " ".join(unknown.output.replace("│", " ").split())


def test_backtest_runs_a_user_strategy_and_reports_a_failing_one(strategies, five_months):
    result = runner.invoke(
        app, ["backtest", "--strategy", "range_break", "--data", str(five_months), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["trade_count"] > 0
    failing = runner.invoke(
        app, ["backtest", "--strategy", "raises_on_signals", "--data", str(five_months)]
    )
    assert failing.exit_code == 1
    line = line_of(RAISES_ON_SIGNALS, "undefined_name")
    assert (
        f"strategy 'raises_on_signals' ({strategies / 'raises.py'}, line {line}): the signal "
        "function raised NameError"
    ) in " ".join(failing.output.split())


def _walk_forward(five_months: Path, journal: Path) -> dict:
    result = runner.invoke(
        app,
        [
            "walk-forward",
            "--strategy",
            "range_break",
            "--data",
            str(five_months),
            "--splits",
            "2",
            "--trials",
            "8",
            "--batch-size",
            "4",
            "--min-trades",
            "1",
            "--storage",
            str(journal),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_edited_code_gets_a_new_version_and_never_resumes_the_old_study(
    tmp_path, strategies, five_months, monkeypatch
):
    import optuna

    directory = write(tmp_path / "mine", range_break=SOUND)
    monkeypatch.setenv("MAESTRO_STRATEGY_PATH", str(directory))
    journal = tmp_path / "studies.journal"
    first = _walk_forward(five_months, journal)
    assert first["n_evaluated_here"] == first["n_trials_total"] == 16
    again = _walk_forward(five_months, journal)
    assert again["strategy_version"] == first["strategy_version"]
    assert again["n_evaluated_here"] == 0, "the same code resumes its finished study"

    path = directory / "range_break.py"
    path.write_text(
        path.read_text().replace("up, down = ", "# breaks count on closes\n    up, down = ")
    )
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)
    edited = _walk_forward(five_months, journal)
    assert edited["strategy_version"] != first["strategy_version"]
    assert edited["n_evaluated_here"] == edited["n_trials_total"] == 16
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))
    )
    names = [s.study_name for s in storage.get_all_studies()]
    assert len(names) == 4
    for version in (first["strategy_version"], edited["strategy_version"]):
        assert sum(f"range_break:{version}:" in n for n in names) == 2
