"""Published studies: the optional path frame, the headline (verdict and figures) in the
warehouse and the leaderboard, and warehouse tables older than the results they receive."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from maestro_pipeline.keys import StudyKey
from maestro_pipeline.storage.leaderboard import (
    build_leaderboard,
    column_display,
    with_headline_columns,
)
from maestro_pipeline.storage.studies import (
    HEADLINE_COLUMNS,
    StudyStore,
    count_study_rows,
    headline_figures,
    replace_study_rows,
    summary_row,
)

KEY = StudyKey("ema_cross", "BTC/USD", "1h")
OTHER = StudyKey("rsi", "BTC/USD", "1h")
T0 = datetime(2018, 1, 1, tzinfo=UTC)


def _frames(paths: int = 0) -> dict[str, pl.DataFrame]:
    times = pl.datetime_range(T0, datetime(2018, 1, 1, 3, tzinfo=UTC), "1h", eager=True)
    times = times.dt.cast_time_unit("ms")
    frames = {
        "folds": pl.DataFrame({"fold": [0], "oos_sharpe_ratio": [1.0]}),
        "equity": pl.DataFrame({"timestamp": times, "equity": [1.0, 1.1, 1.2, 1.3], "fold": 0}),
        "trades": pl.DataFrame({"fold": [0], "pnl": [1.0]}),
        "trials": pl.DataFrame({"fold": [0], "value": [1.0]}),
    }
    if paths:
        frames["paths"] = pl.DataFrame(
            {
                "path": [p for p in range(paths) for _ in times],
                "timestamp": pl.concat([times] * paths),
                "equity": [1.0] * (4 * paths),
            }
        )
    return frames


SUMMARY = {
    "verdict": "fragile",
    "oos": {"sharpe_ratio": 1.5, "trade_count": 30.0, "total_return": float("nan")},
    "deflated_sharpe_ratio": 0.7,
    "pbo": 0.2,
    "wf_efficiency": None,
    "n_trials_total": 10,
}


def test_the_paths_frame_is_published_when_given_and_none_when_not(tmp_path):
    store = StudyStore(tmp_path)
    store.publish(KEY, _frames(), SUMMARY)
    assert store.read_frame(KEY, "paths") is None
    assert store.read_frame(KEY, "equity").height == 4
    store.publish(KEY, _frames(paths=3), SUMMARY)
    assert store.read_frame(KEY, "paths").get_column("path").unique().sort().to_list() == [0, 1, 2]
    with pytest.raises(ValueError, match="lack \\['trials'\\]"):
        store.publish(KEY, {k: v for k, v in _frames().items() if k != "trials"}, SUMMARY)
    with pytest.raises(ValueError, match="unknown study frame 'nope'"):
        store.read_frame(KEY, "nope")
    assert store.read_frame(OTHER, "paths") is None  # not published at all


def test_the_headline_holds_the_verdict_as_text_and_the_figures_as_numbers():
    figures = headline_figures(SUMMARY)
    assert list(figures) == list(HEADLINE_COLUMNS)
    assert figures["verdict"] == "fragile" and figures["oos_sharpe_ratio"] == 1.5
    assert figures["oos_total_return"] is None and figures["wf_efficiency"] is None
    assert headline_figures({**SUMMARY, "verdict": "great"})["verdict"] is None
    assert column_display("verdict") == ("Verdict", "text")
    assert column_display("oos_sharpe_ratio") == ("Sharpe", "ratio")
    row = summary_row(KEY, {**SUMMARY, "verdict": None})
    assert row.schema["verdict"] == pl.String and row.schema["wf_efficiency"] == pl.Float64


def test_a_warehouse_table_older_than_the_results_gains_their_columns(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        # A study_summary from before the verdict, holding another study's row.
        old = summary_row(OTHER, SUMMARY).drop("verdict")
        conn.register("old_rows", old.to_arrow())
        conn.execute("CREATE TABLE study_summary AS SELECT *, 'rsi' AS strategy, "
                     "'BTC/USD' AS symbol, '1h' AS timeframe FROM old_rows")  # fmt: skip
        assert count_study_rows(conn, KEY)["study_paths"] == 0  # no such table yet
        frames = _frames(paths=2)
        counts = replace_study_rows(conn, KEY, {"summary": summary_row(KEY, SUMMARY), **frames})
        assert counts["study_summary"] == 1 and counts["study_paths"] == 8
        rows = conn.execute(
            "SELECT strategy, verdict FROM study_summary ORDER BY strategy"
        ).fetchall()
        assert rows == [("ema_cross", "fragile"), ("rsi", None)]
        assert count_study_rows(conn, KEY) == {
            "study_summary": 1,
            "study_folds": 1,
            "study_equity": 4,
            "study_trades": 1,
            "study_paths": 8,
        }
        # A walk-forward re-run publishes no paths: the study's old path rows go.
        replace_study_rows(conn, KEY, {**frames, "paths": frames["paths"].clear()})
        assert count_study_rows(conn, KEY)["study_paths"] == 0


def test_the_leaderboard_carries_the_verdict_and_old_boards_gain_the_column(tmp_path):
    store = StudyStore(tmp_path)
    store.publish(KEY, _frames(), SUMMARY)
    store.publish(OTHER, _frames(), {**SUMMARY, "verdict": None, "oos": {"sharpe_ratio": 2.0}})
    board = build_leaderboard(store)
    assert board.schema["verdict"] == pl.String
    assert board.select("study_id", "verdict").rows() == [
        (OTHER.study_id, None),
        (KEY.study_id, "fragile"),
    ]
    old = with_headline_columns(board.drop("verdict", "pbo"))
    assert old.schema["verdict"] == pl.String and old.get_column("pbo").null_count() == 2
