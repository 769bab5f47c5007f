"""Cleaning and resampling of bars, checked against independent computations."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from maestro_pipeline.engine.bars import clean_bars, find_gaps, resample_bars
from maestro_pipeline.engine.timeframes import timeframe_ms


@pytest.mark.parametrize("timeframe, rule", [("1h", "1h"), ("4h", "4h"), ("1d", "1D")])
def test_resample_matches_pandas(btc_30m, timeframe, rule):
    ours = resample_bars(btc_30m, timeframe).to_pandas().set_index("timestamp")
    frame = btc_30m.to_pandas().set_index("timestamp")
    theirs = (
        frame.resample(rule, label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna(subset=["open"])
    )
    theirs.index = theirs.index.as_unit("ms")
    ours.index = ours.index.as_unit("ms")
    pd.testing.assert_frame_equal(ours, theirs, check_freq=False, check_index_type=False)


def test_resampled_bars_keep_open_time_labels(btc_30m):
    four_hour = resample_bars(btc_30m.head(16), "4h")
    assert four_hour.height == 2
    assert [str(t) for t in four_hour["timestamp"]] == [
        "2017-10-01 00:00:00+00:00",
        "2017-10-01 04:00:00+00:00",
    ]
    assert four_hour["open"][0] == btc_30m["open"][0]
    assert four_hour["close"][0] == btc_30m["close"][7]
    assert four_hour["volume"][1] == pytest.approx(btc_30m["volume"][8:16].sum())


def _raw(rows):
    return pl.DataFrame(
        rows, schema=["timestamp", "open", "high", "low", "close", "volume"], orient="row"
    )


def test_cleaning_rejects_invalid_dedups_and_sorts():
    step = timeframe_ms("30m")
    t0 = 1_506_816_000_000
    raw = _raw(
        [
            [t0 + step, 10.0, 11.0, 9.0, 10.5, 1.0],
            [t0, 10.0, 11.0, 9.0, 10.5, 1.0],
            [t0 + step, 10.0, 12.0, 9.0, 11.0, 2.0],  # re-sent bar: the later copy wins
            [t0 + 2 * step, 10.0, 9.0, 9.5, 10.0, 1.0],  # high below low: invalid
            [t0 + 3 * step, None, 11.0, 9.0, 10.0, 1.0],  # missing open: invalid
            [t0 + 4 * step, 10.0, 11.0, 9.0, 10.0, -1.0],  # negative volume: invalid
            [t0 + 5 * step + 7, 10.0, 11.0, 9.0, 10.0, 1.0],  # off the 30m grid
            [t0 + 6 * step, 10.0, 11.0, 9.0, 10.0, 1.0],
        ]
    )
    clean, report = clean_bars(raw, "30m")
    assert report.invalid_rows == 3
    assert report.misaligned_rows == 1
    assert report.duplicate_rows == 1
    assert clean.height == 3
    assert clean["timestamp"].is_sorted()
    assert clean.filter(pl.col("timestamp").dt.epoch("ms") == t0 + step)["high"].item() == 12.0
    assert str(clean.schema["timestamp"]) == "Datetime(time_unit='ms', time_zone='UTC')"


def test_gaps_found_in_the_real_sample(btc_30m):
    gaps = find_gaps(btc_30m, "30m")
    # The sample's README counts 22 missing half-hour slots.
    assert gaps.missing_bars == 22
    assert gaps.expected_bars == btc_30m.height + 22
    assert gaps.gaps[0][2] >= 1


def test_bad_timeframe_is_named():
    with pytest.raises(ValueError, match="invalid timeframe '7x'"):
        timeframe_ms("7x")
