"""Scoring parameter sets on windows made of several contiguous segments (cpcv training sets).

A cpcv training set is the bars outside the split's test groups: up to ``k + 1`` contiguous
segments with gaps between them. Each segment is simulated on its own, starting from cash
(a position cannot be carried over bars that are not part of the set), and the segments'
equity curves are chained the way walk-forward folds are stitched: segment ``s + 1`` starts
from segment ``s``'s final equity. The chained curve is scored with the same formulas as one
contiguous window (``metrics.return_metrics`` and ``metrics.trade_metrics``), so its Sharpe
is the Sharpe of every training bar's return, its total return the product of the
segments' growth, its drawdown measured across segment boundaries. With a single segment
the result equals ``Backtester.metrics`` on that window exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from maestro_pipeline.engine.backtest.simulate import SimulationArrays
from maestro_pipeline.engine.metrics import (
    METRIC_NAMES,
    floor_at_ruin,
    return_metrics,
    returns_from_values,
    trade_metrics,
)
from maestro_pipeline.engine.splits import cumulative_subwindows
from maestro_pipeline.engine.strategy import Signals
from maestro_pipeline.engine.vectorbt_kernels import kernels
from maestro_pipeline.engine.walk_forward.objective import Backtester, FoldEvaluator

enums = kernels().enums

Segments = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Chained:
    """Simulations of consecutive segments chained into one curve per column.

    ``values``: equity per bar (floored at ruin), each segment scaled to start where the
    previous one ended; ``returns``: per-bar returns; ``parts``: the segments' own
    simulations; ``offsets``: each segment's first row in ``values``; ``scales``: per segment
    and column, the factor that turns the segment's money into the chained curve's.
    """

    values: np.ndarray
    returns: np.ndarray
    parts: tuple[SimulationArrays, ...]
    offsets: tuple[int, ...]
    scales: np.ndarray
    init_cash: float


def chain(parts: Sequence[SimulationArrays]) -> Chained:
    """Chain the simulations of consecutive segments (same columns in each)."""
    init_cash = parts[0].init_cash
    level = np.full(parts[0].values.shape[1], init_cash, dtype=np.float64)
    curves, returns, scales, offsets = [], [], [], []
    offset = 0
    for part in parts:
        values = floor_at_ruin(part.values)
        scale = level / init_cash
        curves.append(values * scale)
        returns.append(returns_from_values(values, init_cash))
        scales.append(scale)
        offsets.append(offset)
        offset += values.shape[0]
        level = curves[-1][-1]
    return Chained(
        values=np.concatenate(curves),
        returns=np.concatenate(returns),
        parts=tuple(parts),
        offsets=tuple(offsets),
        scales=np.asarray(scales),
        init_cash=init_cash,
    )


def chained_metrics(chained: Chained, periods: float) -> dict[str, np.ndarray]:
    """``METRIC_NAMES`` of every column of a chained curve (one array per metric)."""
    table = return_metrics(chained.values, chained.init_cash, periods)
    n_bars, n_cols = chained.values.shape
    records = [part.positions for part in chained.parts]
    columns = np.concatenate([r["col"] for r in records]).astype(np.int64)
    pnl = np.concatenate(
        [r["pnl"] * chained.scales[s][r["col"]] for s, r in enumerate(records)]
    ).astype(np.float64)
    is_open = np.concatenate([r["status"] == enums.TradeStatus.Open for r in records])
    entry = np.concatenate(
        [r["entry_idx"] + o for r, o in zip(records, chained.offsets, strict=True)]
    )
    exit_ = np.concatenate(
        [r["exit_idx"] + o for r, o in zip(records, chained.offsets, strict=True)]
    )
    returns = np.concatenate([r["return"] for r in records]).astype(np.float64)
    table.update(trade_metrics(columns, entry, exit_, is_open, pnl, returns, n_cols, n_bars))
    # A position still open at a segment's end is held until that segment's end, not the
    # chained curve's: exposure is each segment's own, weighted by its bars.
    held = np.zeros(n_cols)
    for part in chained.parts:
        bars = part.values.shape[0]
        own = trade_metrics(
            part.positions["col"].astype(np.int64),
            part.positions["entry_idx"],
            part.positions["exit_idx"],
            part.positions["status"] == enums.TradeStatus.Open,
            part.positions["pnl"],
            part.positions["return"],
            n_cols,
            bars,
        )
        held += own["exposure"] * bars
    table["exposure"] = held / n_bars
    return table


def simulate_segments(backtester: Backtester, signals: Signals, segments: Segments) -> Chained:
    """Every column of ``signals`` simulated on each segment, chained."""
    return chain([backtester.simulate(signals, start, stop) for start, stop in segments])


def segments_metrics(backtester: Backtester, signals: Signals, segments: Segments) -> pd.DataFrame:
    """Metrics table (one row per column) of ``signals`` over the chained segments."""
    if len(segments) == 1:
        return backtester.metrics(signals, *segments[0])
    chained = simulate_segments(backtester, signals, segments)
    started = time.perf_counter()
    table = chained_metrics(chained, backtester.periods)
    backtester.seconds += time.perf_counter() - started
    return pd.DataFrame({name: table[name] for name in METRIC_NAMES})


def cumulative_segments(segments: Segments, n_steps: int) -> list[Segments]:
    """Growing prefixes of a segmented window, for pruning steps; the last is all of it.

    Step ``k`` holds the first ``ceil((k + 1) / n_steps * total)`` bars of the segments in
    time order (``splits.cumulative_subwindows`` over the bar count).
    """
    total = sum(stop - start for start, stop in segments)
    steps = []
    for _, used in cumulative_subwindows(0, total, n_steps=n_steps):
        prefix, left = [], used
        for start, stop in segments:
            if left <= 0:
                break
            take = min(stop - start, left)
            prefix.append((start, start + take))
            left -= take
        steps.append(tuple(prefix))
    return steps


class SegmentsEvaluator(FoldEvaluator):
    """``FoldEvaluator`` whose pruning windows are prefixes of a segmented training set."""

    def __init__(
        self,
        backtester: Backtester,
        steps: list[Segments],
        objective: str,
        min_trades: int,
        periods: float,
    ) -> None:
        super().__init__(backtester, steps, objective, min_trades, periods)  # type: ignore[arg-type]

    def window_metrics(self, signals: Signals, step: int) -> pd.DataFrame:
        return segments_metrics(self.backtester, signals, self.windows[step])  # type: ignore[arg-type]


def per_bar_sharpe(table: pd.DataFrame, periods: float) -> np.ndarray:
    """The annualized Sharpe column of a metrics table, back in per-bar units."""
    return table["sharpe_ratio"].to_numpy(dtype=float) / math.sqrt(periods)
