"""CPCV splits against skfolio's CombinatorialPurgedCV, and the recombined paths."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from skfolio.model_selection import CombinatorialPurgedCV

from maestro_pipeline.engine.cpcv import cpcv_splits, n_paths, n_splits

# (bars, groups, test groups, purge, embargo): embargo >= purge maps onto skfolio exactly.
SETTINGS = [
    (1000, 6, 2, 0, 0),
    (1003, 6, 2, 5, 10),
    (997, 8, 3, 7, 7),
    (1201, 10, 4, 3, 20),
    (640, 5, 3, 0, 12),
    (2000, 4, 2, 30, 30),
]


def skfolio_splits(n_bars, n_groups, n_test_groups, purge, embargo):
    """skfolio drops ``purged_size`` bars before and ``purged_size + embargo_size`` after each
    test segment: ours (purge before, embargo after) is theirs with E = embargo - purge."""
    cv = CombinatorialPurgedCV(
        n_folds=n_groups,
        n_test_folds=n_test_groups,
        purged_size=purge,
        embargo_size=embargo - purge,
    )
    return cv, list(cv.split(np.zeros((n_bars, 1))))


@pytest.mark.parametrize(("n_bars", "n_groups", "k", "purge", "embargo"), SETTINGS)
def test_splits_match_skfolio(n_bars, n_groups, k, purge, embargo):
    plan = cpcv_splits(n_bars, n_groups, k, purge, embargo)
    cv, theirs = skfolio_splits(n_bars, n_groups, k, purge, embargo)
    assert len(plan.splits) == cv.n_splits == math.comb(n_groups, k) == n_splits(n_groups, k)
    assert plan.n_paths == cv.n_test_paths == n_paths(n_groups, k)
    for split, (train, tests) in zip(plan.splits, theirs, strict=True):
        assert np.array_equal(split.train_index(), train)
        assert np.array_equal(split.test_index(), np.concatenate(tests))
        # Test groups in skfolio's order: the same combination order.
        assert [plan.groups[g][0] for g in split.test_groups] == [t[0] for t in tests]
    assert np.array_equal(np.array([s.paths for s in plan.splits]), cv.get_path_ids())


@pytest.mark.parametrize(("n_bars", "n_groups", "k", "purge", "embargo"),
                         [(1000, 6, 2, 10, 3), (1500, 7, 3, 25, 0)])  # fmt: skip
def test_a_purge_longer_than_the_embargo_keeps_the_bars_skfolio_drops(
    n_bars, n_groups, k, purge, embargo
):
    # skfolio purges both sides (P before, P + E after); ours drops `embargo` bars after a
    # test segment, so with embargo < purge we keep [stop + embargo, stop + purge).
    plan = cpcv_splits(n_bars, n_groups, k, purge, embargo)
    cv = CombinatorialPurgedCV(n_folds=n_groups, n_test_folds=k, purged_size=purge)
    for split, (train, _) in zip(plan.splits, cv.split(np.zeros((n_bars, 1))), strict=True):
        ours = set(split.train_index().tolist())
        assert set(train.tolist()) <= ours
        kept = set()
        for _, stop in split.test:
            kept |= set(range(stop + embargo, min(stop + purge, n_bars)))
        assert ours - set(train.tolist()) == kept


@pytest.mark.parametrize(("n_bars", "n_groups", "k", "purge", "embargo"), SETTINGS)
def test_purge_and_embargo_boundaries_around_every_test_segment(
    n_bars, n_groups, k, purge, embargo
):
    plan = cpcv_splits(n_bars, n_groups, k, purge, embargo)
    for split in plan.splits:
        train = set(split.train_index().tolist())
        test = set(split.test_index().tolist())
        assert not train & test
        for start, stop in split.test:
            before = set(range(max(0, start - purge), start))
            after = set(range(stop, min(n_bars, stop + embargo)))
            assert not (before | after) & train
            # Just outside the gaps, a bar that is not tested is trained on.
            for edge in (start - purge - 1, stop + embargo):
                if 0 <= edge < n_bars and edge not in test:
                    assert edge in train
        # Nothing else is left out.
        dropped = set(range(n_bars)) - train - test
        gaps = set()
        for start, stop in split.test:
            gaps |= set(range(max(0, start - purge), start)) | set(range(stop, stop + embargo))
        assert dropped <= gaps


@pytest.mark.parametrize(("n_bars", "n_groups", "k", "purge", "embargo"),
                         [*SETTINGS, (500, 5, 1, 0, 0), (900, 9, 8, 2, 2)])  # fmt: skip
def test_every_path_tests_every_bar_exactly_once(n_bars, n_groups, k, purge, embargo):
    plan = cpcv_splits(n_bars, n_groups, k, purge, embargo)
    assert plan.path_splits.shape == (math.comb(n_groups - 1, k - 1), n_groups)
    assert plan.n_paths * n_groups == len(plan.splits) * k  # phi = k / N * C(N, k)
    for path in range(plan.n_paths):
        covered = np.zeros(n_bars, dtype=np.int64)
        for g, split_number in enumerate(plan.path_splits[path]):
            split = plan.splits[split_number]
            assert g in split.test_groups  # the path takes a split that tested this group
            start, stop = plan.groups[g]
            covered[start:stop] += 1
        assert (covered == 1).all()
    # Each split's test groups feed distinct paths, and every (split, group) is used once.
    used = {(int(s), g) for p in plan.path_splits for g, s in enumerate(p)}
    assert used == {(s.fold, g) for s in plan.splits for g in s.test_groups}


def test_groups_are_contiguous_and_the_last_takes_the_rest():
    plan = cpcv_splits(1003, 6, 2)
    assert plan.groups[0] == (0, 167) and plan.groups[-1] == (835, 1003)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan.groups))
    # Adjacent test groups form one test segment, with no gap between them.
    split = next(s for s in plan.splits if s.test_groups == (1, 2))
    assert split.test == ((167, 501),)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((100, 1, 1), "n_groups"),
        ((100, 5, 5), "n_test_groups"),
        ((100, 5, 0), "n_test_groups"),
        ((9, 5, 2), "too few"),
        ((100, 5, 2, 15, 5), "smaller than a group"),
        ((100, 5, 2, -1, 0), "purge_bars"),
        ((10_000, 24, 12), "splits"),
    ],
)
def test_bad_settings_name_the_problem(args, message):
    with pytest.raises(ValueError, match=message):
        cpcv_splits(*args)
