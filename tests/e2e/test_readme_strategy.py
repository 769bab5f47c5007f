"""The README's "Write your own strategy" section, run as a newcomer would, so it can't rot.

The section's first ```python block is saved under the name the README gives it, in a temporary
folder that holds the checkout's tools (links to .venv and the package, for the bundled sample's
path); then its commands run there in one bash session, HOME pointing at the temporary folder
too. Two commands are not run because they never return: `make run` (it ends by serving the
UIs) and `maestro serve`; what they stand for is done instead: the bars `make run` materializes
first (four months, one symbol, to stay short) and a look at the leaderboard through the API.
The transcript goes to test-artifacts/readme_transcript.txt.
"""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest

from api.main import create_app
from maestro_pipeline.settings import Settings
from tests.api.conftest import api_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Write your own strategy"
NEVER_RETURN = ("make run", ".venv/bin/maestro serve")
# What `make run` leaves behind before the second block: the bars (a short stretch here).
MAKE_RUN_STANDIN = (
    "DAGSTER_HOME=$PWD/.dagster_home .venv/bin/maestro materialize --job market_data_job"
)


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end > 0 else None]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def _script(commands: list[str]) -> str:
    """A bash session that echoes each command before running it and stops at a failure."""
    lines = ["set -euo pipefail"]
    for command in commands:
        lines.append(f"printf '%s\\n' {_quote('$ ' + command)}")
        if command.startswith(NEVER_RETURN):
            lines.append("echo '(not run here: it serves until stopped)'")
        else:
            lines.append(command)
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> dict:
    section = _section()
    python_block = _blocks(section, "python")[0]
    first, second = _blocks(section, "bash")[:2]
    file_name = re.search(r"Save this as `([\w.]+\.py)`", section).group(1)
    root = tmp_path_factory.mktemp("newcomer")
    home, work = root / "home", root / "work"
    home.mkdir()
    work.mkdir()
    for name in (".venv", "maestro_pipeline"):
        (work / name).symlink_to(ROOT / name)
    (work / file_name).write_text(python_block)
    (work / ".dagster_home").mkdir()  # `make dagster-home`, part of `make run`
    (work / ".dagster_home" / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    commands = [
        *(line for line in first.strip().splitlines()),
        MAKE_RUN_STANDIN,
        *(line for line in second.strip().splitlines()),
    ]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MAESTRO_", "DAGSTER_"))},
        "HOME": str(home),
        "MAESTRO_SYMBOLS": "BTC/USD",
        "MAESTRO_START": "2019-01-01",
        "MAESTRO_END": "2019-05-01",
        "MAESTRO_STUDY_SPLITS": "2",
        "MAESTRO_STUDY_TRIALS": "12",
        "MAESTRO_STUDY_MIN_TRADES": "1",
        "COLUMNS": "120",
    }
    done = subprocess.run(
        ["bash", "-c", _script(commands)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    transcript = done.stdout + done.stderr
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "readme_transcript.txt").write_text(transcript)
    return {
        "returncode": done.returncode,
        "stdout": done.stdout,
        "transcript": transcript,
        "work": work,
        "home": home,
        "name": re.search(r'name="(\w+)"', python_block).group(1),
        "file": file_name,
        "commands": commands,
    }


def test_the_readme_names_its_five_steps() -> None:
    first = _blocks(_section(), "bash")[0]
    assert "MAESTRO_STRATEGY_PATH=" in first
    for step in ("maestro check", "maestro backtest", "maestro walk-forward", "make run"):
        assert step in first


def test_the_readme_commands_run_from_a_temporary_folder(newcomer) -> None:
    assert newcomer["returncode"] == 0, newcomer["transcript"][-5000:]
    out = newcomer["stdout"]
    strategies = newcomer["home"] / "maestro-strategies"
    assert (strategies / newcomer["file"]).is_file()
    # check: three passing checks of the user's file
    assert f"{newcomer['name']} ({strategies / newcomer['file']}, version" in " ".join(out.split())
    assert out.count("PASS") == 3 and "FAIL" not in out
    # backtest and walk-forward
    assert "trade_count" in out and "sharpe_ratio" in out
    assert "stitched OOS" in out and f"{newcomer['name']} (version" in out
    # the study and the leaderboard
    assert "walk_forward_job: 1/1 partitions" in out
    assert "leaderboard_job: 1/1 partitions" in out


def test_the_strategy_reaches_the_leaderboard(newcomer, tmp_path) -> None:
    assert newcomer["returncode"] == 0, newcomer["transcript"][-5000:]
    settings = Settings(data_dir=newcomer["work"] / "data", symbols=("BTC/USD",))
    with TestClient(create_app(settings, api_config(tmp_path))) as client:
        rows = client.get("/api/v2/leaderboard").json()["rows"]
        assert [r["study_id"] for r in rows] == [f"{newcomer['name']}.BTC-USD.1h"]
        assert rows[0]["strategy_version"]
