"""`maestro strategies` and `maestro backtest` through the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

import maestro_pipeline
from maestro_pipeline.cli import app
from tests.support.processes import COMMAND_SECONDS

SAMPLE = (
    Path(maestro_pipeline.__file__).parent / "sources" / "sample_data"
    / "bitfinex_btc_usd_30m.parquet"
)  # fmt: skip
runner = CliRunner()


@pytest.fixture(scope="module")
def one_year_file(tmp_path_factory) -> Path:
    """A year of the real 30m sample (the command resamples it to 1h)."""
    path = tmp_path_factory.mktemp("bars") / "btc_30m.parquet"
    pl.read_parquet(SAMPLE).head(17_520).write_parquet(path)
    return path


def test_strategies_json_lists_the_catalog() -> None:
    result = runner.invoke(app, ["strategies", "--json"])
    assert result.exit_code == 0, result.output
    catalog = orjson.loads(result.output)
    assert len(catalog) == 22
    ema = next(s for s in catalog if s["name"] == "ema_cross")
    assert ema["defaults"]["fast"] == 12
    assert ema["space"]["fast"] == {"type": "int", "low": 2, "high": 100, "step": 1, "log": False}
    assert "fast < slow" in ema["constraints"]


def test_strategies_table_names_every_strategy() -> None:
    result = runner.invoke(app, ["strategies"])
    assert result.exit_code == 0
    for name in ("ema_cross", "confluence", "vwap_reversion", "heikin_ashi"):
        assert name in result.output


def test_backtest_json_prints_snake_case_metrics(one_year_file, tmp_path) -> None:
    trades, equity = tmp_path / "trades.csv", tmp_path / "equity.parquet"
    args = ["backtest", "--strategy", "ema_cross", "--data", str(one_year_file),
            "--timeframe", "1h", "--params", '{"fast": 10, "slow": 30}', "--fees", "0.001",
            "--json", "--trades-out", str(trades), "--equity-out", str(equity)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = orjson.loads(result.output)
    for key in ("sharpe_ratio", "sortino_ratio", "total_return", "max_drawdown", "trade_count"):
        assert key in payload
    assert payload["params"] == {"fast": 10, "slow": 30, "ma_type": "ema"}
    assert payload["bars"] in (8_760, 8_761)  # a partial first hour still makes a bar
    assert isinstance(payload["trade_count"], int) and payload["trade_count"] > 10
    trade_rows = pl.read_csv(trades)
    assert trade_rows.height == payload["trade_count"]
    assert trade_rows["entry_time"][0].endswith("Z")
    curve = pl.read_parquet(equity)
    assert curve.height == payload["bars"]
    assert curve["equity"][-1] == pytest.approx(10_000 * (1 + payload["total_return"]))


def test_backtest_table_is_readable(one_year_file) -> None:
    result = runner.invoke(app, ["backtest", "--strategy", "rsi", "--data", str(one_year_file)])
    assert result.exit_code == 0, result.output
    assert "sharpe_ratio" in result.output and "max_drawdown" in result.output


def test_both_engines_trade_the_same_on_the_real_sample(one_year_file) -> None:
    """``--engine-version v1`` runs the same strategy through Backtrader: same trades, same
    equity to rounding (the event-driven engine is the vectorized one's cross-check)."""
    base = ["backtest", "--strategy", "macd", "--data", str(one_year_file), "--json",
            "--fees", "0.001", "--slippage", "0.0005"]  # fmt: skip
    payloads = {}
    for engine in ("v1", "v2"):
        result = runner.invoke(app, [*base, "--engine-version", engine])
        assert result.exit_code == 0, result.output
        payloads[engine] = orjson.loads(result.output)
    v1, v2 = payloads["v1"], payloads["v2"]
    assert (v1["engine_version"], v2["engine_version"]) == ("v1", "v2")
    assert v1["trade_count"] == v2["trade_count"] > 10
    for key in ("total_return", "sharpe_ratio", "max_drawdown"):
        assert v1[key] == pytest.approx(v2[key], rel=1e-6)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--strategy", "ema_cross", "--params", '{"fast": 50, "slow": 20}'],
            "'fast' must be less",
        ),
        (["--strategy", "ema_cross", "--params", '{"fast": "x"}'], "'fast' must be an integer"),
        (["--strategy", "rsi", "--params", '{"window": 500}'], "'window' must be within"),
        (["--strategy", "rsi", "--params", '{"speed": 3}'], "'speed' is not a parameter"),
        (["--strategy", "rsi", "--params", "{fast"], "not valid JSON"),
        (["--strategy", "fernando"], "unknown strategy"),
        (["--strategy", "rsi", "--fees", "-1"], "'fees'"),
        (["--strategy", "rsi", "--direction", "up"], "'direction'"),
        (["--strategy", "rsi", "--engine-version", "v3"], "must be one of v1, v2"),
        (
            [
                "--strategy",
                "rsi",
                "--engine-version",
                "v1",
                "--stop-loss",
                "0.05",
                "--trailing-stop",
            ],
            "trailing_stop",
        ),
    ],
)
def test_bad_input_is_named_without_traceback(one_year_file, extra, expected) -> None:
    result = runner.invoke(app, ["backtest", "--data", str(one_year_file), *extra])
    assert result.exit_code != 0
    text = " ".join(result.output.split()).replace("│", "")
    assert expected in " ".join(text.split()), result.output
    assert "Traceback" not in result.output


def test_module_entry_point_runs_as_a_process() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "maestro_pipeline.cli",
            "backtest",
            "--strategy",
            "macd",
            "--data",
            str(SAMPLE),
            "--params",
            '{"fast": 30, "slow": 10}',
        ],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
    )
    assert completed.returncode != 0
    assert "'fast' must be less than 'slow'" in " ".join(completed.stderr.split())
    assert "Traceback" not in completed.stderr
