"""Walk-forward studies, their reports and the leaderboard as Dagster assets, end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import optuna
import polars as pl
import pytest

import maestro_pipeline
from maestro_pipeline.defs.market_data import market_data_assets
from maestro_pipeline.defs.reports import leaderboard, strategy_report
from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.defs.schedules import weekly_studies_on_new_bars
from maestro_pipeline.defs.studies import walk_forward_study
from maestro_pipeline.defs.study_checks import cross_check_result
from maestro_pipeline.engine.bars import resample_bars
from maestro_pipeline.engine.registry import get_strategy
from maestro_pipeline.keys import StudyKey
from maestro_pipeline.optimization.storages import optuna_storage
from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.reports import ReportStore
from maestro_pipeline.storage.studies import StudyStore

MONTHS = ["2018-01-01", "2018-02-01", "2018-03-01", "2018-04-01", "2018-05-01", "2018-06-01"]
STUDY = "BTC/USD@1h|ema_cross"
TINY = {"n_splits": 3, "n_trials": 12, "min_trades": 1}


@pytest.fixture(scope="module")
def studied(tmp_path_factory):
    """Six months of BTC bars, one small study with its report, and the leaderboard."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    resources = build_resources(settings)
    # A real on-disk instance: schedules read materialization history through its ref.
    instance = dg.DagsterInstance.local_temp(str(tmp_path_factory.mktemp("dagster_home")))
    for month in MONTHS:
        key = f"{month}|BTC/USD"
        assert dg.materialize(
            market_data_assets, partition_key=key, resources=resources, instance=instance
        ).success
    study_run = dg.materialize(
        [walk_forward_study, strategy_report],
        partition_key=STUDY,
        resources=resources,
        instance=instance,
        run_config={"ops": {"walk_forward_study": {"config": TINY}}},
    )
    board_run = dg.materialize([leaderboard], resources=resources, instance=instance)
    return settings, resources, instance, study_run, board_run


def _study_rows(settings: Settings) -> dict[str, tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*), count(DISTINCT (strategy, symbol, timeframe)) FROM {table}"
            ).fetchone()
            for table in ("study_summary", "study_folds", "study_equity", "study_trades")
        }


def test_study_publishes_results_and_metadata(studied):
    settings, _, _, run, _ = studied
    assert run.success
    key = StudyKey("ema_cross", "BTC/USD", "1h")
    store = StudyStore(settings.data_dir)
    summary = store.read_summary(key)
    folds = store.read_frame(key, "folds")
    equity = store.read_frame(key, "equity")
    assert folds.height == 3
    assert set(equity.get_column("fold").unique()) == set(folds.get_column("fold"))
    assert equity.get_column("timestamp").is_sorted()
    assert 0.0 <= summary["deflated_sharpe_ratio"] <= 1.0
    assert summary["pbo"] is None or 0.0 <= summary["pbo"] <= 1.0
    meta = run.asset_materializations_for_node("walk_forward_study")[0].metadata
    for name in ("oos_sharpe_ratio", "deflated_sharpe_ratio", "pbo", "wf_efficiency", "folds"):
        assert name in meta
    assert "| fold |" in meta["folds"].value
    checks = run.get_asset_check_evaluations()
    assert {c.check_name: c.passed for c in checks} == {
        "oos_equity_covers_every_fold": True,
        "strategy_passes_bias_checks": True,
        "engine_cross_check": True,
    }
    (cross,) = [c for c in checks if c.check_name == "engine_cross_check"]
    assert cross.metadata["engine"].value == "v1"
    assert cross.metadata["max_deviation"].value < 1e-6
    assert summary["cross_check"]["passed"] is True
    assert len(summary["cross_check"]["folds"]) == 3
    progress = store.read_progress(key)
    assert progress["status"] == "completed" and progress["run_id"] == run.run_id
    # The default storage keeps each study's folds in a journal of its own.
    journals = sorted(p.name for p in (settings.data_dir / "optuna").iterdir())
    assert journals == [f"{key.study_id}.journal"]
    fold_studies = optuna.get_all_study_summaries(
        optuna_storage(settings.data_dir / "optuna" / journals[0])
    )
    assert len(fold_studies) == 3
    assert sum(s.n_trials for s in fold_studies) == 3 * TINY["n_trials"]
    rows = _study_rows(settings)
    assert rows["study_summary"] == (1, 1)
    assert rows["study_folds"] == (3, 1)
    assert rows["study_equity"][0] == equity.height


def test_report_has_quantstats_metrics_tearsheet_and_insights(studied):
    settings, *_ = studied
    key = StudyKey("ema_cross", "BTC/USD", "1h")
    reports = ReportStore(settings.data_dir)
    report = reports.read_json(key, "report")
    assert report["periods_per_year"] == 365 * 24
    sharpe = report["metrics"]["sharpe_ratio"]
    assert sharpe["strategy"] is not None and sharpe["benchmark"] is not None
    assert any(row["metric"].startswith("Sharpe") for row in report["quantstats_table"])
    html = reports.path(key, "tearsheet").read_text()
    assert "<html" in html.lower() and "<svg" in html.lower()
    # The report's table is the tear sheet's own: the same Sharpe figures, in the same order.
    (sharpe_row,) = [row for row in report["quantstats_table"] if row["metric"] == "Sharpe"]
    shown = f"<td>Sharpe</td><td>{sharpe_row['Benchmark']}</td><td>{sharpe_row['Strategy']}</td>"
    assert shown in html
    insights = reports.read_json(key, "insights")
    assert len(insights["folds"]) == 3
    history = insights["folds"][0]["history"]
    assert len(history) >= TINY["n_trials"]
    bests = [h["best_so_far"] for h in history if h["best_so_far"] is not None]
    assert bests == sorted(bests)
    space = set(get_strategy("ema_cross").space)
    importances = insights["importances"]
    assert importances and set(importances) <= space
    for fold in insights["folds"]:
        if fold["importances"]:
            assert sum(fold["importances"].values()) == pytest.approx(1.0)


def test_leaderboard_ranks_published_studies(studied):
    settings, *_, board_run = studied
    assert board_run.success
    board = ReportStore(settings.data_dir).read_leaderboard()
    assert board.height == 1
    row = board.row(0, named=True)
    assert row["rank"] == 1 and row["study_id"] == "ema_cross.BTC-USD.1h"
    summary = StudyStore(settings.data_dir).read_summary(StudyKey.from_study_id(row["study_id"]))
    assert row["oos_sharpe_ratio"] == pytest.approx(summary["oos"]["sharpe_ratio"])


def test_rerunning_a_study_replaces_its_rows(studied):
    settings, resources, instance, *_ = studied
    before = _study_rows(settings)
    again = dg.materialize(
        [walk_forward_study],
        partition_key=STUDY,
        resources=resources,
        instance=instance,
        run_config={"ops": {"walk_forward_study": {"config": TINY}}},
    )
    assert again.success
    assert _study_rows(settings) == before
    store = StudyStore(settings.data_dir)
    first = store.read_frame(StudyKey("ema_cross", "BTC/USD", "1h"), "folds")
    assert first.height == 3


def test_weekly_schedule_requests_studies_only_when_bars_changed(studied):
    _, resources, instance, *_ = studied
    tick = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    first = weekly_studies_on_new_bars(context)
    requested = [str(r.partition_key) for r in first]
    # Every BTC study but the one already run after its bars; no ETH bars exist at all.
    assert STUDY not in requested
    assert requested and all(k.startswith("BTC/USD@1h|") for k in requested)
    assert dg.materialize(
        market_data_assets,
        partition_key="2018-06-01|BTC/USD",
        resources=resources,
        instance=instance,
    ).success
    after = [str(r.partition_key) for r in weekly_studies_on_new_bars(context)]
    assert STUDY in after


def test_every_surface_reports_the_same_verdict(studied):
    settings, _, _, run, board_run = studied
    key = StudyKey("ema_cross", "BTC/USD", "1h")
    summary = StudyStore(settings.data_dir).read_summary(key)
    verdict = summary["verdict"]
    assert verdict in ("robust", "fragile", "overfit", "insufficient")
    meta = run.asset_materializations_for_node("walk_forward_study")[0].metadata
    assert meta["verdict"].value == verdict
    reasons = meta["verdict_reasons"].value
    assert reasons.startswith(f"**{verdict}**")
    assert all(reason in reasons for reason in summary["verdict_details"]["reasons"])
    assert "| sharpe_ratio" not in reasons and "| deflated_sharpe |" in reasons
    low = summary["bootstrap"]["sharpe_ratio"]["low"]
    assert meta["oos_sharpe_ci_low"].value == pytest.approx(low)
    assert "95 % low" in meta["bootstrap"].value
    assert "| Sharpe |" in meta["bootstrap"].value
    heatmap = summary["plateau"]["heatmap"]
    assert f"{heatmap['y']['name']} \\ {heatmap['x']['name']}" in meta["plateau"].value
    assert "cross-check" in meta["cross_check"].value
    assert "cpcv_paths" not in meta and meta["scheme"].value == "walk_forward"
    board = ReportStore(settings.data_dir).read_leaderboard()
    assert board.row(0, named=True)["verdict"] == verdict
    board_meta = board_run.asset_materializations_for_node("leaderboard")[0].metadata
    assert board_meta["verdicts"].value == {verdict: 1}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        stored = conn.execute(
            "SELECT verdict FROM study_summary WHERE strategy = 'ema_cross'"
        ).fetchone()
    assert stored == (verdict,)


CPCV_STUDY = "BTC/USD@1h|rsi"
TINY_CPCV = {"scheme": "cpcv", "n_groups": 4, "n_test_groups": 2, "n_trials": 8, "min_trades": 1}


@pytest.fixture(scope="module")
def cpcv_run(studied):
    """A small cpcv study beside the walk-forward one (4 groups, 2 tested: 3 paths)."""
    _, resources, instance, *_ = studied
    return dg.materialize(
        [walk_forward_study],
        partition_key=CPCV_STUDY,
        resources=resources,
        instance=instance,
        run_config={"ops": {"walk_forward_study": {"config": TINY_CPCV}}},
    )


def test_cpcv_study_publishes_every_path_and_passes_the_coverage_check(studied, cpcv_run):
    settings, *_ = studied
    assert cpcv_run.success
    checks = {c.check_name: c for c in cpcv_run.get_asset_check_evaluations()}
    assert checks["oos_equity_covers_every_fold"].passed
    key = StudyKey("rsi", "BTC/USD", "1h")
    store = StudyStore(settings.data_dir)
    summary = store.read_summary(key)
    paths = store.read_frame(key, "paths")
    equity = store.read_frame(key, "equity")
    assert summary["scheme"] == "cpcv" and summary["cpcv"]["n_paths"] == 3
    assert paths.height == 3 * equity.height
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT path) FROM study_paths WHERE strategy = 'rsi'"
        ).fetchone()
        walk_forward = conn.execute(
            "SELECT count(*) FROM study_paths WHERE strategy = 'ema_cross'"
        ).fetchone()
    assert stored == (paths.height, 3) and walk_forward == (0,)
    meta = cpcv_run.asset_materializations_for_node("walk_forward_study")[0].metadata
    assert meta["scheme"].value == "cpcv"
    table = meta["cpcv_paths"].value
    assert f"| {summary['cpcv']['representative_path']} (equity) |" in table
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == 1 + 3
    assert meta["cpcv_share_below_zero"].value == pytest.approx(
        summary["cpcv"]["sharpe_ratio"]["share_below_zero"]
    )


def test_the_coverage_check_fails_when_a_path_or_a_split_is_missing(studied, cpcv_run):
    import polars as pl

    from maestro_pipeline.defs.study_checks import oos_coverage

    settings, *_ = studied
    key = StudyKey("rsi", "BTC/USD", "1h")
    store = StudyStore(settings.data_dir)
    summary = store.read_summary(key)
    folds, equity, paths = (store.read_frame(key, n) for n in ("folds", "equity", "paths"))
    whole = oos_coverage(folds, equity, paths, summary)
    assert whole["covered"] and whole["splits_in_paths"] == whole["splits"] == 6
    assert whole["paths_covering_every_bar"] == 3
    # A path lost: its splits' results are nowhere.
    lost = oos_coverage(folds, equity, paths.filter(pl.col("path") != 2), summary)
    assert not lost["covered"] and lost["paths_published"] == 2
    # A split's result on a path it was not assigned to.
    moved = paths.with_columns(
        pl.when((pl.col("path") == 1) & (pl.col("group") == 0))
        .then(pl.lit(5, pl.Int64))
        .otherwise(pl.col("fold"))
        .alias("fold")
    )
    assert not oos_coverage(folds, equity, moved, summary)["covered"]
    # A bar twice on a path (and another missing).
    first = paths.filter(pl.col("path") == 0)
    doubled = pl.concat(
        [first.head(1), first.head(first.height - 1), paths.filter(pl.col("path") != 0)]
    )
    hurt = oos_coverage(folds, equity, doubled, summary)
    assert not hurt["covered"] and hurt["paths_covering_every_bar"] == 2
    # An equity that is not the representative path.
    other = equity.with_columns(pl.col("equity") * 1.01)
    assert not oos_coverage(folds, other, paths, summary)["equity_is_representative_path"]
    # Walk-forward: a fold missing from the stitched equity.
    wf_key = StudyKey("ema_cross", "BTC/USD", "1h")
    wf_summary = store.read_summary(wf_key)
    wf_folds, wf_equity, wf_paths = (
        store.read_frame(wf_key, n) for n in ("folds", "equity", "paths")
    )
    assert wf_paths.height == 0
    assert oos_coverage(wf_folds, wf_equity, wf_paths, wf_summary)["covered"]
    gap = wf_equity.filter(pl.col("fold") != 1)
    assert oos_coverage(wf_folds, gap, wf_paths, wf_summary)["folds_in_equity"] == 2
    assert not oos_coverage(wf_folds, gap, wf_paths, wf_summary)["covered"]


def test_the_cross_check_fails_the_asset_check_when_the_engines_disagree():
    """A study whose re-run trades differently (signals drawn anew on every call) fails
    ``engine_cross_check`` at error severity, naming the study and its worst folds."""
    from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
    from maestro_pipeline.engine.walk_forward.runner import run_walk_forward
    from maestro_pipeline.strategy import IntParam, SignalSet, Strategy

    def coin_flips(bars, p):
        flips = np.random.default_rng().random(len(bars.close)) < 1.0 / p["every"]
        return SignalSet(long_entries=flips, long_exits=np.roll(flips, p["every"] // 2))

    restless = Strategy(
        name="restless",
        description="Long on a fresh random draw each call.",
        parameters={"every": IntParam(10, 40, default=20)},
        signal_function=coin_flips,
    )
    sample = Path(maestro_pipeline.__file__).parent / "sources" / "sample_data"
    bars = resample_bars(pl.read_parquet(sample / "bitfinex_btc_usd_30m.parquet"), "1h").head(3000)
    study = run_walk_forward(bars, restless, WalkForwardConfig(n_splits=3, n_trials=6))
    agreeing = {"passed": True, "max_deviation": 0.0, "folds": [], "tolerance": 0.05}
    result = cross_check_result(
        {"BTC/USD@1h|restless": study.summary["cross_check"], "ETH/USD@1h|ok": agreeing}
    )
    assert result.passed is False
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert "BTC/USD@1h|restless" in result.description
    failed = result.metadata["failed"].value
    assert list(failed) == ["BTC/USD@1h|restless"] and failed["BTC/USD@1h|restless"]


def test_an_unchecked_study_warns_instead_of_passing():
    result = cross_check_result({"BTC/USD@1h|x": {"passed": None, "unsupported": "trailing_stop"}})
    assert result.passed is False
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert "trailing_stop" in result.description
