"""Walk-forward splits: where each fold's in-sample (IS) and out-of-sample (OOS) windows lie.

All windows are half-open bar-index ranges ``[start, stop)`` over one bar series.

The OOS windows of the folds are contiguous, do not overlap and cover the tail of the series in
order, so the OOS results of the folds stitch into one continuous out-of-sample curve. Each
fold's IS window ends ``purge_bars + embargo_bars`` bars before its OOS window starts:

* rolling: every IS window has the same length and slides forward by one OOS length per fold;
* anchored (expanding): every IS window starts where the first fold's IS window starts and
  grows by one OOS length per fold.

Bars in front of the first IS window that the settings cannot use are left out at the *start*
of the series (never at the end): the most recent data is always tested.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class WalkForwardFold:
    """One fold: an in-sample window to optimize on and the out-of-sample window after it.

    Index ranges are half-open ``[start, stop)``. The ``*_first_time``/``*_last_time`` fields are
    the UTC timestamps of the first and last bar inside each window (``None`` when the splits
    were built from a bar count without timestamps).
    """

    fold: int
    is_start: int
    is_stop: int
    oos_start: int
    oos_stop: int
    is_first_time: pd.Timestamp | None = None
    is_last_time: pd.Timestamp | None = None
    oos_first_time: pd.Timestamp | None = None
    oos_last_time: pd.Timestamp | None = None

    @property
    def is_bars(self) -> int:
        return self.is_stop - self.is_start

    @property
    def oos_bars(self) -> int:
        return self.oos_stop - self.oos_start

    @property
    def gap_bars(self) -> int:
        """Bars between the end of the IS window and the start of the OOS window."""
        return self.oos_start - self.is_stop

    def as_record(self) -> dict[str, Any]:
        """A flat dict (timestamps as ISO-8601 strings) for tables, JSON and asset metadata."""
        record: dict[str, Any] = {
            "fold": self.fold,
            "is_start": self.is_start,
            "is_stop": self.is_stop,
            "oos_start": self.oos_start,
            "oos_stop": self.oos_stop,
            "is_bars": self.is_bars,
            "oos_bars": self.oos_bars,
            "gap_bars": self.gap_bars,
        }
        for name in ("is_first_time", "is_last_time", "oos_first_time", "oos_last_time"):
            value = getattr(self, name)
            record[name] = None if value is None else value.isoformat()
        return record


def walk_forward_splits(
    n_bars: int | None = None,
    *,
    timestamps: Any = None,
    n_splits: int,
    oos_bars: int | None = None,
    is_bars: int | None = None,
    is_oos_ratio: float | None = None,
    anchored: bool = False,
    purge_bars: int = 0,
    embargo_bars: int = 0,
) -> list[WalkForwardFold]:
    """Build ``n_splits`` walk-forward folds over a series of bars.

    Args:
        n_bars: number of bars; may be omitted when ``timestamps`` is given.
        timestamps: bar times (polars/pandas Series, DatetimeIndex, numpy datetime64 array or a
            sequence of datetimes), strictly increasing. Naive values are read as UTC. Used to
            report each window's first and last bar time.
        n_splits: number of folds (>= 1).
        oos_bars: length of every OOS window. When omitted it is derived from the other
            settings so that the folds use as much of the series as possible.
        is_bars: length of every IS window (rolling) or of the first IS window (anchored).
        is_oos_ratio: IS length / OOS length, used when ``is_bars`` or ``oos_bars`` is missing.
            With neither ``is_bars`` nor ``is_oos_ratio`` in anchored mode, the first IS window
            starts at bar 0.
        anchored: expanding IS windows that all start at the first fold's IS start.
        purge_bars: bars dropped between IS and OOS so that IS values whose look-ahead horizon
            reaches into the OOS window cannot leak into the fit.
        embargo_bars: an extra safety margin added to the same gap. In a forward-only
            walk-forward no fold trains on bars that follow its own OOS window, so the
            embargo of k-fold cross-validation can only act as this additional gap.

    Raises:
        ValueError: naming the setting that does not fit the data.
    """
    times = _utc_times(timestamps) if timestamps is not None else None
    n = _bar_count(n_bars, times)
    _check_settings(n_splits, oos_bars, is_bars, is_oos_ratio, purge_bars, embargo_bars)
    gap = purge_bars + embargo_bars

    oos, first_is = _window_lengths(n, n_splits, oos_bars, is_bars, is_oos_ratio, anchored, gap)
    needed = first_is + gap + n_splits * oos
    if oos < 1 or first_is < 1 or needed > n:
        raise ValueError(
            f"walk-forward settings do not fit the data: they need {first_is} IS + {gap} gap + "
            f"{n_splits} x {oos} OOS = {needed} bars (IS and OOS windows of at least 1 bar), "
            f"but there are {n} bars; use fewer splits, shorter windows or more data"
        )

    first_oos_start = n - n_splits * oos
    first_is_start = first_oos_start - gap - first_is
    folds = []
    for k in range(n_splits):
        oos_start = first_oos_start + k * oos
        is_stop = oos_start - gap
        is_start = first_is_start if anchored else is_stop - first_is
        folds.append(
            WalkForwardFold(
                fold=k,
                is_start=is_start,
                is_stop=is_stop,
                oos_start=oos_start,
                oos_stop=oos_start + oos,
                **_window_times(times, is_start, is_stop, oos_start, oos_start + oos),
            )
        )
    return folds


def cumulative_subwindows(
    start: int, stop: int, n_steps: int | None = None, fractions: Sequence[float] | None = None
) -> list[tuple[int, int]]:
    """Growing sub-windows ``[start, stop_k)`` of one IS window, for pruning steps.

    Step ``k`` of an optimization evaluates on the k-th window; the last window is always the
    whole ``[start, stop)``, so the final value of a trial is its full in-sample score. Give
    either ``n_steps`` (equal increments: fractions 1/n, 2/n, ..., 1) or increasing
    ``fractions`` in (0, 1] ending at 1.
    """
    length = stop - start
    if length < 1:
        raise ValueError(f"the window [{start}, {stop}) is empty")
    if (n_steps is None) == (fractions is None):
        raise ValueError("give exactly one of n_steps or fractions")
    if n_steps is not None:
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        fractions = [(k + 1) / n_steps for k in range(n_steps)]
    assert fractions is not None
    values = [float(f) for f in fractions]
    if not values or any(not 0 < f <= 1 for f in values) or values[-1] != 1.0:
        raise ValueError(f"fractions must lie in (0, 1] and end at 1, got {values}")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"fractions must be strictly increasing, got {values}")
    stops = [start + max(1, math.ceil(f * length)) for f in values]
    if len(set(stops)) != len(stops):
        raise ValueError(
            f"the window [{start}, {stop}) has {length} bars, too few for {len(values)} "
            "distinct sub-windows"
        )
    return [(start, s) for s in stops]


def _check_settings(
    n_splits: int,
    oos_bars: int | None,
    is_bars: int | None,
    is_oos_ratio: float | None,
    purge_bars: int,
    embargo_bars: int,
) -> None:
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    if oos_bars is not None and oos_bars < 1:
        raise ValueError(f"oos_bars must be >= 1, got {oos_bars}")
    if is_bars is not None and is_bars < 1:
        raise ValueError(f"is_bars must be >= 1, got {is_bars}")
    if is_oos_ratio is not None and not (math.isfinite(is_oos_ratio) and is_oos_ratio > 0):
        raise ValueError(f"is_oos_ratio must be a finite number > 0, got {is_oos_ratio}")
    if purge_bars < 0:
        raise ValueError(f"purge_bars must be >= 0, got {purge_bars}")
    if embargo_bars < 0:
        raise ValueError(f"embargo_bars must be >= 0, got {embargo_bars}")
    if is_bars is not None and oos_bars is not None and is_oos_ratio is not None:
        raise ValueError("give at most two of is_bars, oos_bars and is_oos_ratio")


def _window_lengths(
    n: int,
    n_splits: int,
    oos_bars: int | None,
    is_bars: int | None,
    ratio: float | None,
    anchored: bool,
    gap: int,
) -> tuple[int, int]:
    """(OOS length, first IS length) from whichever settings were given."""
    if oos_bars is not None and is_bars is not None:
        return oos_bars, is_bars
    if oos_bars is not None:
        if ratio is not None:
            return oos_bars, round(ratio * oos_bars)
        if anchored:
            return oos_bars, n - gap - n_splits * oos_bars
        raise ValueError("rolling splits with oos_bars also need is_bars or is_oos_ratio")
    if is_bars is not None:
        if ratio is not None:
            return max(1, round(is_bars / ratio)), is_bars
        return (n - gap - is_bars) // n_splits, is_bars
    if ratio is not None:
        oos = math.floor((n - gap) / (n_splits + ratio))
        return oos, round(ratio * oos)
    if anchored:
        # No sizes at all: the classic expanding scheme, first IS as long as one OOS window.
        oos = (n - gap) // (n_splits + 1)
        return oos, n - gap - n_splits * oos
    raise ValueError("rolling splits need at least one of oos_bars, is_bars or is_oos_ratio")


def _bar_count(n_bars: int | None, times: np.ndarray | None) -> int:
    if times is None:
        if n_bars is None:
            raise ValueError("give n_bars or timestamps")
        return n_bars
    if n_bars is not None and n_bars != len(times):
        raise ValueError(f"n_bars={n_bars} but {len(times)} timestamps were given")
    return len(times)


def _utc_times(timestamps: Any) -> np.ndarray:
    """Bar times as a naive datetime64[ns] array of UTC instants, checked strictly increasing."""
    if hasattr(timestamps, "to_pandas"):  # polars Series
        timestamps = timestamps.to_pandas()
    index = pd.DatetimeIndex(timestamps)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    values = index.tz_localize(None).as_unit("ns").to_numpy()
    if np.isnat(values).any():
        raise ValueError("timestamps contain missing values")
    if len(values) > 1 and not (np.diff(values) > np.timedelta64(0, "ns")).all():
        raise ValueError("timestamps must be strictly increasing")
    return values


def _window_times(
    times: np.ndarray | None, is_start: int, is_stop: int, oos_start: int, oos_stop: int
) -> dict[str, pd.Timestamp | None]:
    if times is None:
        return {}

    def at(i: int) -> pd.Timestamp:
        return pd.Timestamp(times[i]).tz_localize("UTC")

    return {
        "is_first_time": at(is_start),
        "is_last_time": at(is_stop - 1),
        "oos_first_time": at(oos_start),
        "oos_last_time": at(oos_stop - 1),
    }
