"""`maestro walk-forward` through the real command, resume after a killed run included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import orjson
import polars as pl
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from typer.testing import CliRunner

from maestro_pipeline.cli import app
from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.engine.walk_forward.batched import INFEASIBLE_ATTR
from maestro_pipeline.sources.sample import SAMPLE_FILES
from tests.support.processes import COMMAND_SECONDS, STOP_SECONDS, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
HOUR_MS = 3_600_000
runner = CliRunner()


@pytest.fixture(scope="module")
def half_year_30m(tmp_path_factory) -> Path:
    """Six months of the real 30-minute BTC/USD sample (the command resamples it to 1h)."""
    path = tmp_path_factory.mktemp("bars") / "btc_30m.parquet"
    pl.read_parquet(SAMPLE_FILES["BTC/USD"]).tail(2 * 24 * 182).write_parquet(path)
    return path


def walk_forward_args(data: Path, *extra: str) -> list[str]:
    return ["walk-forward", "--strategy", "ema_cross", "--data", str(data), "--timeframe", "1h",
            *extra]  # fmt: skip


def test_json_reports_folds_and_selection_bias_on_resampled_bars(half_year_30m):
    result = runner.invoke(
        app,
        walk_forward_args(
            half_year_30m, "--splits", "3", "--trials", "10", "--batch-size", "5", "--json"
        ),
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    for key in ("folds", "oos", "deflated_sharpe_ratio", "pbo", "wf_efficiency",
                "param_stability", "timings"):  # fmt: skip
        assert key in report
    assert len(report["folds"]) == 3
    assert {"sharpe_ratio", "sortino_ratio", "total_return", "max_drawdown"} <= set(report["oos"])
    assert 0 <= report["pbo"] <= 1 and 0 <= report["deflated_sharpe_ratio"] <= 1
    assert set(report["param_stability"]) == {"fast", "slow", "ma_type"}
    # 30-minute input, 1h study: half as many bars, windows one hour apart.
    n_hours = resample_bars(pl.read_parquet(half_year_30m), "1h").height
    assert n_hours < pl.read_parquet(half_year_30m).height
    assert report["data_fingerprint"].startswith(f"{n_hours}b-")
    first, second = report["folds"][0], report["folds"][1]
    end = pl.Series([first["oos_end"], second["oos_start"]]).str.to_datetime()
    assert (end[1] - end[0]).total_seconds() == 3600
    assert first["best_params"]["fast"] < first["best_params"]["slow"]


def test_json_reports_validation_and_verdict_for_both_schemes(half_year_30m):
    common = ("--trials", "8", "--batch-size", "8", "--pruning-steps", "2", "--json")
    walk = runner.invoke(app, walk_forward_args(half_year_30m, "--splits", "3", *common))
    cpcv = runner.invoke(
        app,
        walk_forward_args(half_year_30m, "--scheme", "cpcv", "--groups", "4", "--test-groups",
                          "2", "--purge-bars", "6", "--embargo-bars", "12", *common),
    )  # fmt: skip
    for result in (walk, cpcv):
        assert result.exit_code == 0, result.output
        report = orjson.loads(result.stdout)
        assert report["verdict"] in ("robust", "fragile", "overfit", "insufficient")
        assert report["verdict_details"]["reasons"]
        sharpe = report["bootstrap"]["sharpe_ratio"]
        assert sharpe["low"] <= sharpe["estimate"] <= sharpe["high"]
        assert {"score", "folds", "importance", "heatmap"} <= set(report["plateau"])
        assert "max_drawdown" in report["trade_monte_carlo"]
    walk_report, cpcv_report = orjson.loads(walk.stdout), orjson.loads(cpcv.stdout)
    assert walk_report["scheme"] == "walk_forward" and walk_report["cpcv"] is None
    assert cpcv_report["scheme"] == "cpcv" and cpcv_report["config"]["embargo_bars"] == 12
    assert len(cpcv_report["folds"]) == 6  # C(4, 2) splits
    paths = cpcv_report["cpcv"]
    assert paths["n_paths"] == 3 and len(paths["paths"]) == 3
    assert 0 <= paths["sharpe_ratio"]["share_below_zero"] <= 1


def test_table_output_is_readable(half_year_30m):
    result = runner.invoke(
        app, walk_forward_args(half_year_30m, "--splits", "2", "--trials", "6", "--anchored")
    )
    assert result.exit_code == 0, result.output
    assert "stitched OOS" in result.stdout and "PBO" in result.stdout
    assert "verdict:" in result.stdout and "bootstrap 95%" in result.stdout


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--objective", "profit"], "--objective"),
        (["--trials", "0"], "--trials"),
        (["--storage", "studies.txt"], "--storage"),
        (["--timeframe", "7x"], "--timeframe"),
    ],
)
def test_bad_options_are_named_without_a_traceback(half_year_30m, extra, option):
    result = runner.invoke(app, walk_forward_args(half_year_30m, *extra))
    assert result.exit_code != 0
    assert option in result.output
    assert "Traceback" not in result.output


def test_unknown_strategy_and_too_few_bars(tmp_path, half_year_30m):
    result = runner.invoke(app, ["walk-forward", "--strategy", "nope", "--data",
                                 str(half_year_30m)])  # fmt: skip
    assert result.exit_code != 0 and "--strategy" in result.output
    tiny = tmp_path / "tiny.parquet"
    pl.read_parquet(half_year_30m).head(40).write_parquet(tiny)
    result = runner.invoke(app, walk_forward_args(tiny, "--splits", "10"))
    assert result.exit_code == 1
    assert "too few bars" in result.output and "Traceback" not in result.output


def _finished_per_fold(storage: JournalStorage) -> dict[int, int]:
    counts = {}
    for study in storage.get_all_studies():
        fold = int(study.study_name.rsplit("fold-", 1)[1])
        trials = storage.get_all_trials(study._study_id, deepcopy=False)
        # Finished as optimize_batched counts them: trials failed by a kill are re-run.
        counts[fold] = sum(
            t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and INFEASIBLE_ATTR in t.user_attrs)
            for t in trials
        )
    return counts


def test_killed_run_resumes_to_the_requested_trials(tmp_path, half_year_30m):
    journal = tmp_path / "studies.journal"
    splits, trials = 3, 40
    args = walk_forward_args(half_year_30m, "--splits", str(splits), "--trials", str(trials),
                             "--batch-size", "5", "--storage", str(journal))  # fmt: skip
    code = "import sys; from maestro_pipeline.cli import app; app(sys.argv[1:])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    storages: list[JournalStorage] = []

    def frozen_after_fold_0() -> dict[int, int] | None:
        """Freeze the run and read the journal: kill it if the first fold holds all its
        trials (the journal then holds exactly what was read), let it go on otherwise."""
        if not journal.exists():
            return None
        process.send_signal(signal.SIGSTOP)
        finished: dict[int, int] = {}
        try:
            if not storages:
                storages.append(JournalStorage(JournalFileBackend(str(journal))))
            finished = _finished_per_fold(storages[0])
        finally:
            if finished.get(0, 0) < trials:
                process.send_signal(signal.SIGCONT)
        return finished if finished.get(0, 0) >= trials else None

    try:
        at_kill = wait_until(
            frozen_after_fold_0,
            "the run never finished its first fold",
            timeout=COMMAND_SECONDS,
            process=process,
            interval=0.02,
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert at_kill.get(0) == trials
    left = _finished_per_fold(JournalStorage(JournalFileBackend(str(journal))))
    assert sum(left.values()) < splits * trials, "every fold had finished: nothing to resume"

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    for fold in report["folds"]:
        assert fold["n_complete"] + fold["n_pruned"] + fold["n_infeasible"] == trials
    assert report["folds"][0]["n_evaluated_here"] == 0
    assert report["n_evaluated_here"] == splits * trials - sum(left.values())
    assert _finished_per_fold(JournalStorage(JournalFileBackend(str(journal)))) == {
        k: trials for k in range(splits)
    }
