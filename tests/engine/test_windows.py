"""One-pass rolling windows: exact extremes and correctly rounded sums, whatever the history."""

from __future__ import annotations

import math

import numpy as np
import pytest

from maestro_pipeline.engine import indicators as ind
from maestro_pipeline.engine.vectorbt_kernels import kernels


def _series(seed: int, size: int, with_nans: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Magnitudes from 1e-5 to 1e7 in one series: sums whose rounding depends on the order.
    values = rng.normal(size=size) * 10.0 ** rng.integers(-5, 8, size)
    if with_nans:
        values[rng.random(size) < 0.1] = np.nan
    return values


def _fsum_windows(values: np.ndarray, n: int) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - n + 1) : i + 1]
        full = i >= n - 1 and not np.isnan(window).any()
        out.append(math.fsum(window) if full else math.nan)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_rolling_sum_is_math_fsum_of_every_window(seed: int) -> None:
    n = 1 + seed * 3
    values = _series(seed, 400, with_nans=seed % 2 == 1)
    assert np.array_equal(ind.rolling_sum(values, n), _fsum_windows(values, n), equal_nan=True)


@pytest.mark.parametrize("seed", range(12))
def test_rolling_extremes_match_vectorbt(seed: int) -> None:
    generic = kernels().generic_nb
    n = 1 + seed * 5
    values = _series(seed, 500, with_nans=seed % 2 == 0)
    assert np.array_equal(
        ind.rolling_max(values, n), generic.rolling_max_1d_nb(values, n, n), equal_nan=True
    )
    assert np.array_equal(
        ind.rolling_min(values, n), generic.rolling_min_1d_nb(values, n, n), equal_nan=True
    )


def test_a_window_has_one_value_whatever_the_history_before_it() -> None:
    prices = 8_000.0 + np.cumsum(np.random.default_rng(7).normal(size=3_000)) * 0.37
    full = ind.sma(prices, 50)
    for start in (1, 17, 999, 2_100):
        assert np.array_equal(ind.sma(prices[start:], 50)[49:], full[start + 49 :])


def test_flat_markets_tie_exactly() -> None:
    # 0.1 has no exact binary form: a running sum drifts, an exact sum does not.
    flat = np.full(1_000, 0.1)
    assert np.array_equal(ind.sma(flat, 4)[10:], ind.sma(flat, 5)[10:])


def test_infinities_fall_back_to_plain_sums() -> None:
    values = np.array([1.0, np.inf, 2.0, 3.0, 4.0])
    assert ind.rolling_sum(values, 2).tolist()[1:] == [np.inf, np.inf, 5.0, 7.0]


def test_a_window_shorter_than_one_bar_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bar"):
        ind.rolling_max(np.ones(5), 0)


def test_rolling_std_is_the_population_deviation_of_each_window() -> None:
    values = 8_000.0 + np.cumsum(np.random.default_rng(3).normal(size=500))
    values[100] = np.nan
    std = ind.rolling_std(values, 20)
    for i in (19, 99, 119, 120, 499):
        window = values[i - 19 : i + 1]
        expected = np.nan if np.isnan(window).any() else np.std(window)
        assert std[i] == pytest.approx(expected, rel=1e-12, nan_ok=True)
    assert np.isnan(std[:19]).all() and np.isnan(std[100:120]).all()
