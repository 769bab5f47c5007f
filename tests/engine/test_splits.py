"""Walk-forward splits: exact boundaries for known settings, timestamps and bad settings."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import polars as pl
import pytest

from maestro_pipeline.engine.splits import cumulative_subwindows, walk_forward_splits


def ranges(folds):
    return [(f.is_start, f.is_stop, f.oos_start, f.oos_stop) for f in folds]


def test_rolling_with_explicit_lengths():
    folds = walk_forward_splits(100, n_splits=4, is_bars=30, oos_bars=10)
    assert ranges(folds) == [
        (30, 60, 60, 70),
        (40, 70, 70, 80),
        (50, 80, 80, 90),
        (60, 90, 90, 100),
    ]
    assert [f.fold for f in folds] == [0, 1, 2, 3]


def test_anchored_with_explicit_lengths():
    folds = walk_forward_splits(100, n_splits=4, is_bars=30, oos_bars=10, anchored=True)
    assert ranges(folds) == [
        (30, 60, 60, 70),
        (30, 70, 70, 80),
        (30, 80, 80, 90),
        (30, 90, 90, 100),
    ]


def test_purge_and_embargo_open_a_gap_before_each_oos_window():
    folds = walk_forward_splits(
        100, n_splits=4, is_bars=30, oos_bars=10, purge_bars=2, embargo_bars=1
    )
    assert ranges(folds) == [
        (27, 57, 60, 70),
        (37, 67, 70, 80),
        (47, 77, 80, 90),
        (57, 87, 90, 100),
    ]
    assert {f.gap_bars for f in folds} == {3}


def test_ratio_sizes_the_windows_and_leaves_spare_bars_at_the_start():
    # oos = floor(100 / (4 + 2)) = 16, is = 32: 32 + 4 * 16 = 96 bars, the first 4 unused.
    folds = walk_forward_splits(100, n_splits=4, is_oos_ratio=2.0)
    assert ranges(folds) == [
        (4, 36, 36, 52),
        (20, 52, 52, 68),
        (36, 68, 68, 84),
        (52, 84, 84, 100),
    ]


def test_ratio_with_gap_uses_the_bars_left_after_the_gap():
    # oos = floor((100 - 4) / (3 + 1)) = 24, is = 24: 24 + 4 + 3 * 24 = 100.
    folds = walk_forward_splits(100, n_splits=3, is_oos_ratio=1.0, purge_bars=4)
    assert ranges(folds) == [(0, 24, 28, 52), (24, 48, 52, 76), (48, 72, 76, 100)]


def test_anchored_without_sizes_is_the_classic_expanding_scheme():
    folds = walk_forward_splits(100, n_splits=4, anchored=True)
    assert ranges(folds) == [
        (0, 20, 20, 40),
        (0, 40, 40, 60),
        (0, 60, 60, 80),
        (0, 80, 80, 100),
    ]


def test_anchored_with_oos_length_starts_at_bar_zero():
    folds = walk_forward_splits(103, n_splits=2, oos_bars=30, anchored=True)
    assert ranges(folds) == [(0, 43, 43, 73), (0, 73, 73, 103)]


def test_is_length_only_derives_the_oos_length():
    # oos = (100 - 40) // 7 = 8; 40 + 7 * 8 = 96, the first 4 bars unused.
    folds = walk_forward_splits(100, n_splits=7, is_bars=40)
    assert folds[0].is_start == 4
    assert all(f.oos_bars == 8 and f.is_bars == 40 for f in folds)


@pytest.mark.parametrize("anchored", [False, True])
@pytest.mark.parametrize("n_bars, n_splits, ratio, gap", [(1000, 10, 3.0, 0), (777, 7, 1.5, 5)])
def test_oos_windows_tile_the_tail_in_order(anchored, n_bars, n_splits, ratio, gap):
    folds = walk_forward_splits(
        n_bars, n_splits=n_splits, is_oos_ratio=ratio, purge_bars=gap, anchored=anchored
    )
    assert len(folds) == n_splits
    assert folds[-1].oos_stop == n_bars
    for before, after in itertools.pairwise(folds):
        assert after.oos_start == before.oos_stop
    for f in folds:
        assert 0 <= f.is_start < f.is_stop == f.oos_start - gap
        assert f.oos_bars == folds[0].oos_bars
    if anchored:
        assert len({f.is_start for f in folds}) == 1
    else:
        assert len({f.is_bars for f in folds}) == 1


def test_timestamps_of_window_boundaries_in_utc():
    times = pl.datetime_range(
        pl.datetime(2024, 1, 1, time_zone="UTC"),
        pl.datetime(2024, 1, 5, 3, time_zone="UTC"),
        interval="1h",
        eager=True,
    )
    assert len(times) == 100
    fold = walk_forward_splits(timestamps=times, n_splits=4, is_bars=30, oos_bars=10)[0]
    assert fold.is_first_time == pd.Timestamp("2024-01-02 06:00", tz="UTC")
    assert fold.is_last_time == pd.Timestamp("2024-01-03 11:00", tz="UTC")
    assert fold.oos_first_time == pd.Timestamp("2024-01-03 12:00", tz="UTC")
    assert fold.oos_last_time == pd.Timestamp("2024-01-03 21:00", tz="UTC")
    assert str(fold.oos_first_time.tz) == "UTC"
    record = fold.as_record()
    assert record["oos_first_time"] == "2024-01-03T12:00:00+00:00"
    assert record["is_bars"] == 30 and record["gap_bars"] == 0


def test_other_time_zones_and_naive_times_are_read_as_utc_instants():
    berlin = pd.date_range("2024-06-01 02:00", periods=10, freq="h", tz="Europe/Berlin")
    naive = np.arange("2024-06-01T00", "2024-06-01T10", dtype="datetime64[h]")
    a = walk_forward_splits(timestamps=berlin, n_splits=2, is_bars=4, oos_bars=3)
    b = walk_forward_splits(timestamps=naive, n_splits=2, is_bars=4, oos_bars=3)
    assert a == b
    assert a[0].is_first_time == pd.Timestamp("2024-06-01 00:00", tz="UTC")


def test_folds_without_timestamps_have_no_times():
    fold = walk_forward_splits(50, n_splits=2, is_oos_ratio=1.0)[0]
    assert fold.is_first_time is None and fold.as_record()["oos_last_time"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_bars": 100, "n_splits": 0, "is_oos_ratio": 2.0}, "n_splits must be >= 1"),
        ({"n_bars": 100, "n_splits": 4, "is_oos_ratio": 0.0}, "is_oos_ratio must be"),
        ({"n_bars": 100, "n_splits": 4, "is_oos_ratio": -1.0}, "is_oos_ratio must be"),
        ({"n_bars": 100, "n_splits": 4, "is_oos_ratio": float("nan")}, "is_oos_ratio must be"),
        ({"n_bars": 100, "n_splits": 4, "oos_bars": 0, "is_bars": 5}, "oos_bars must be >= 1"),
        ({"n_bars": 100, "n_splits": 4, "is_bars": 0, "oos_bars": 5}, "is_bars must be >= 1"),
        ({"n_bars": 100, "n_splits": 4, "is_oos_ratio": 1.0, "purge_bars": -1}, "purge_bars"),
        ({"n_bars": 100, "n_splits": 4, "is_oos_ratio": 1.0, "embargo_bars": -2}, "embargo"),
        ({"n_bars": 100, "n_splits": 4, "is_bars": 30, "oos_bars": 20}, "need 30 IS"),
        ({"n_bars": 5, "n_splits": 10, "is_oos_ratio": 1.0}, "do not fit the data"),
        ({"n_bars": 100, "n_splits": 4}, "rolling splits need"),
        ({"n_bars": 100, "n_splits": 4, "oos_bars": 10}, "also need is_bars"),
        (
            {"n_bars": 100, "n_splits": 4, "oos_bars": 10, "is_bars": 5, "is_oos_ratio": 1.0},
            "at most two",
        ),
        ({"n_splits": 4, "is_oos_ratio": 1.0}, "give n_bars or timestamps"),
    ],
)
def test_bad_settings_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        walk_forward_splits(**kwargs)


def test_bad_timestamps_are_rejected():
    times = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    with pytest.raises(ValueError, match="strictly increasing"):
        walk_forward_splits(timestamps=times[::-1], n_splits=2, is_oos_ratio=1.0)
    with pytest.raises(ValueError, match="11 but 10 timestamps"):
        walk_forward_splits(11, timestamps=times, n_splits=2, is_oos_ratio=1.0)


def test_cumulative_subwindows_grow_to_the_whole_window():
    assert cumulative_subwindows(100, 200, n_steps=4) == [
        (100, 125),
        (100, 150),
        (100, 175),
        (100, 200),
    ]
    assert cumulative_subwindows(0, 10, fractions=[0.25, 0.5, 1.0]) == [(0, 3), (0, 5), (0, 10)]
    assert cumulative_subwindows(5, 6, n_steps=1) == [(5, 6)]


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((0, 2), {"n_steps": 3}, "too few"),
        ((3, 3), {"n_steps": 1}, "empty"),
        ((0, 10), {"fractions": [0.5, 0.9]}, "end at 1"),
        ((0, 10), {"fractions": [0.6, 0.5, 1.0]}, "strictly increasing"),
        ((0, 10), {}, "exactly one"),
        ((0, 10), {"n_steps": 0}, "n_steps must be"),
    ],
)
def test_cumulative_subwindows_reject_bad_settings(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cumulative_subwindows(*args, **kwargs)
