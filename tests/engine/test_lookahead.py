"""No lookahead: signals on bars truncated at t equal the full-history signals up to t."""

from __future__ import annotations

import numpy as np
import pytest

from maestro_pipeline.engine.registry import all_strategies
from maestro_pipeline.engine.strategy import (
    OHLCV,
    CategoricalParam,
    FloatParam,
    IntParam,
    Strategy,
    strategy_signals,
)

BARS = 3_000
CUTS_PER_STRATEGY = 12


def _random_params(strategy: Strategy, rng: np.random.Generator) -> dict:
    """A random valid parameter set (retried until the cross-constraints hold)."""
    for _ in range(200):
        params = {}
        for name, spec in strategy.space.items():
            if isinstance(spec, IntParam):
                steps = (spec.high - spec.low) // spec.step
                params[name] = spec.low + spec.step * int(rng.integers(0, steps + 1))
            elif isinstance(spec, FloatParam):
                params[name] = float(rng.uniform(spec.low, spec.high))
            else:
                assert isinstance(spec, CategoricalParam)
                params[name] = spec.choices[int(rng.integers(len(spec.choices)))]
        try:
            return strategy.validate(params)
        except ValueError:
            continue
    raise AssertionError(f"no valid random parameters for {strategy.name}")


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_truncated_history_gives_the_same_signals(btc_1h, strategy) -> None:
    rng = np.random.default_rng(abs(hash(strategy.name)) % 2**32)
    bars = OHLCV.from_bars(btc_1h).slice(BARS)
    params = [dict(strategy.defaults), _random_params(strategy, rng)]
    full = strategy_signals(bars, strategy, params)
    assert full.long_entries.any(), "a strategy without signals proves nothing"
    cuts = rng.integers(50, BARS, size=CUTS_PER_STRATEGY)
    for cut in cuts:
        partial = strategy_signals(bars.slice(int(cut)), strategy, params)
        for side in ("long_entries", "long_exits", "short_entries", "short_exits"):
            np.testing.assert_array_equal(
                getattr(partial, side),
                getattr(full, side)[:cut],
                err_msg=f"{strategy.name} {side} differs when history stops at bar {cut}",
            )


def test_the_check_catches_a_centered_indicator(btc_1h) -> None:
    """Guard: a rule that peeks one bar ahead must fail the same comparison."""
    bars = OHLCV.from_bars(btc_1h).slice(500)

    def peeking_entries(ohlcv: OHLCV) -> np.ndarray:
        # "Buy if price will rise within a day": the best close of the next 24 bars.
        close = ohlcv.close
        best_ahead = np.array(
            [close[t + 1 : t + 25].max(initial=-np.inf) for t in range(len(close))]
        )
        return best_ahead > close

    full, partial = peeking_entries(bars), peeking_entries(bars.slice(300))
    assert not np.array_equal(partial, full[:300])
