"""Combinatorial purged cross-validation (CPCV): splits and backtest paths.

López de Prado, *Advances in Financial Machine Learning* (2018), ch. 12. The bars are cut
into ``N`` contiguous groups; every combination of ``k`` groups is the test set of one split
(``C(N, k)`` splits) and the other groups, less the purged and embargoed bars, its training
set. Each group is tested in ``C(N - 1, k - 1)`` splits, so the test results recombine into
``phi = k / N * C(N, k)`` backtest paths, each of which covers every bar exactly once.

Groups: the first ``N - 1`` groups hold ``n_bars // N`` bars each and the last one the rest,
as scikit-learn's ``KFold``-style splitters and skfolio's ``CombinatorialPurgedCV`` do.

Purge and embargo, in bars (all windows are half-open ``[start, stop)`` index ranges):

* ``purge_bars`` training bars just *before* each test group are dropped. A strategy
  decides on a bar's close and fills on the next bar, so the outcome of a position opened in
  those bars depends on prices inside the test group: their "label window" overlaps it.
* ``embargo_bars`` training bars just *after* each test group are dropped. Indicators only
  look back, so the bars right after a test group compute their signals from prices inside
  it; an embargo at least as long as the longest indicator look-back removes that leak.

Adjacent test groups form one test segment (no purge or embargo between them). skfolio's
``CombinatorialPurgedCV(purged_size=P, embargo_size=E)`` drops ``P`` bars before and
``P + E`` bars after each test segment (its purge is symmetric, for labels that reach both
ways): ours with ``purge_bars=p, embargo_bars=e`` is skfolio's with ``P = p, E = e - p``
whenever ``e >= p``; with ``e < p`` ours keeps the bars ``[stop + e, stop + p)`` after a test
segment that skfolio would drop. The tests check both against skfolio.

Paths: path ``j`` takes, for each group ``g``, the test result of the ``j``-th split (in the
order of ``itertools.combinations``) whose test set holds ``g``, which is skfolio's
``get_path_ids`` numbering.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from maestro_pipeline.engine.limits import MAX_SPLITS


@dataclass(frozen=True)
class CpcvSplit:
    """One CPCV split: its test groups, training segments and test segments (bar indices).

    ``fold`` is the split's number (so that code written for walk-forward folds, which
    reads ``fold.fold``, reads it too); ``paths[i]`` is the path that tests
    ``test_groups[i]`` with this split's parameters.
    """

    fold: int
    test_groups: tuple[int, ...]
    paths: tuple[int, ...]
    train: tuple[tuple[int, int], ...]
    test: tuple[tuple[int, int], ...]

    @property
    def train_bars(self) -> int:
        return sum(stop - start for start, stop in self.train)

    @property
    def test_bars(self) -> int:
        return sum(stop - start for start, stop in self.test)

    def train_index(self) -> np.ndarray:
        """Every training bar's index, ascending."""
        return _indices(self.train)

    def test_index(self) -> np.ndarray:
        """Every test bar's index, ascending."""
        return _indices(self.test)


@dataclass(frozen=True)
class CpcvPlan:
    """Every split of a CPCV scheme, its groups and how the paths recombine them.

    ``path_splits[j, g]`` is the split whose test result path ``j`` uses for group ``g``.
    """

    n_bars: int
    groups: tuple[tuple[int, int], ...]
    splits: tuple[CpcvSplit, ...]
    path_splits: np.ndarray
    purge_bars: int
    embargo_bars: int

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_test_groups(self) -> int:
        return len(self.splits[0].test_groups)

    @property
    def n_paths(self) -> int:
        return int(self.path_splits.shape[0])


def n_splits(n_groups: int, n_test_groups: int) -> int:
    """``C(N, k)``: the number of splits."""
    return math.comb(n_groups, n_test_groups)


def n_paths(n_groups: int, n_test_groups: int) -> int:
    """``phi = k / N * C(N, k) = C(N - 1, k - 1)``: the number of backtest paths."""
    return math.comb(n_groups - 1, n_test_groups - 1)


def cpcv_splits(
    n_bars: int, n_groups: int, n_test_groups: int, purge_bars: int = 0, embargo_bars: int = 0
) -> CpcvPlan:
    """The CPCV splits of ``n_bars`` bars (see the module docstring for the conventions).

    Raises:
        ValueError: naming the setting that does not fit (too few bars per group, a purge
            and embargo that would empty a group, more test groups than groups...).
    """
    if n_groups < 2:
        raise ValueError(f"n_groups must be >= 2, got {n_groups}")
    if not 1 <= n_test_groups < n_groups:
        raise ValueError(
            f"n_test_groups must be in [1, n_groups - 1] = [1, {n_groups - 1}], got {n_test_groups}"
        )
    if purge_bars < 0 or embargo_bars < 0:
        raise ValueError(
            f"purge_bars and embargo_bars must be >= 0, got {purge_bars} and {embargo_bars}"
        )
    if n_splits(n_groups, n_test_groups) > MAX_SPLITS:
        raise ValueError(
            f"{n_groups} groups with {n_test_groups} test groups make "
            f"{n_splits(n_groups, n_test_groups)} splits, more than {MAX_SPLITS}; use fewer "
            "groups"
        )
    size = n_bars // n_groups
    if size < 2:
        raise ValueError(
            f"{n_bars} bars are too few for {n_groups} groups of at least 2 bars; use fewer "
            "groups or more bars"
        )
    if purge_bars + embargo_bars >= size:
        raise ValueError(
            f"purge_bars + embargo_bars = {purge_bars + embargo_bars} must be smaller than a "
            f"group's {size} bars"
        )
    bounds = [g * size for g in range(n_groups)] + [n_bars]
    groups = tuple((bounds[g], bounds[g + 1]) for g in range(n_groups))

    combos = list(itertools.combinations(range(n_groups), n_test_groups))
    # The j-th split (in combination order) testing group g feeds path j at group g.
    seen = [0] * n_groups
    path_splits = np.zeros((n_paths(n_groups, n_test_groups), n_groups), dtype=np.int64)
    splits = []
    for number, tested in enumerate(combos):
        paths = []
        for g in tested:
            path_splits[seen[g], g] = number
            paths.append(seen[g])
            seen[g] += 1
        test = _merge([groups[g] for g in tested])
        splits.append(
            CpcvSplit(
                fold=number,
                test_groups=tested,
                paths=tuple(paths),
                train=_training(n_bars, test, purge_bars, embargo_bars),
                test=test,
            )
        )
    return CpcvPlan(
        n_bars=n_bars,
        groups=groups,
        splits=tuple(splits),
        path_splits=path_splits,
        purge_bars=purge_bars,
        embargo_bars=embargo_bars,
    )


def _merge(windows: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Adjacent windows joined (the windows are sorted and do not overlap)."""
    merged: list[list[int]] = []
    for start, stop in windows:
        if merged and merged[-1][1] == start:
            merged[-1][1] = stop
        else:
            merged.append([start, stop])
    return tuple((a, b) for a, b in merged)


def _training(
    n_bars: int, test: tuple[tuple[int, int], ...], purge: int, embargo: int
) -> tuple[tuple[int, int], ...]:
    """The bars outside the test segments, less ``purge`` before and ``embargo`` after each."""
    segments = []
    cursor = 0
    for start, stop in test:
        end = max(cursor, start - purge)
        if end > cursor:
            segments.append((cursor, end))
        cursor = min(n_bars, stop + embargo)
    if cursor < n_bars:
        segments.append((cursor, n_bars))
    return tuple(segments)


def _indices(windows: tuple[tuple[int, int], ...]) -> np.ndarray:
    if not windows:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in windows])
