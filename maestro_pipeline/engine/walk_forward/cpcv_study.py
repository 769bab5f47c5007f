"""Assembling a cpcv study: each split's chosen parameters traded on its test groups, the
backtest paths recombined from them, and the distribution of OOS Sharpe over the paths.

Every split's search optimizes on its training segments (``segments``: each segment
simulated from cash, the segments chained). Its best parameters (the strategy's defaults
when no trial was feasible) then trade each of its test groups: every group is simulated
on its own, from cash, flat on its last bar, like a walk-forward fold's OOS window. Path
``j`` chains, group after group, the results of the splits ``CpcvPlan.path_splits[j]``,
so each path is a complete out-of-sample backtest over every bar, made of ``N`` segments
traded by parameters that never saw them.

The study's ``equity`` and ``trades`` (and the top-level OOS metrics) are those of the
representative path: the one with the median OOS Sharpe (the lower of the two middle ones
for an even number of paths). Taking a real path rather than an average of paths keeps
the curve one that a trader could have had; the spread of all paths is in
``summary["cpcv"]`` and ``WalkForwardResult.paths``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from maestro_pipeline.engine.backtest.simulate import SimulationArrays
from maestro_pipeline.engine.cpcv import CpcvPlan
from maestro_pipeline.engine.metrics import FOLD_METRICS, json_safe
from maestro_pipeline.engine.strategy import OHLCV, Strategy
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.objective import Backtester, flat_at, select_columns
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.params import trial_params
from maestro_pipeline.engine.walk_forward.results import (
    PATH_SCHEMA,
    WalkForwardResult,
    _equity_frame,
    _fold_trades,
    _iso,
    _stitched_metrics,
    _to_utc,
    _trades_frame,
    _trials_frame,
    selection_summary,
)
from maestro_pipeline.engine.walk_forward.segments import chain, chained_metrics, segments_metrics
from maestro_pipeline.engine.walk_forward.statistics import walk_forward_efficiency

# Quantiles of the paths' OOS Sharpe published in the summary.
PATH_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class _GroupWindow:
    """Where a group's trades sit, in the shape ``results._fold_trades`` reads."""

    fold: int
    oos_start: int


def assemble_cpcv(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    plan: CpcvPlan,
    outcomes: list[FoldOutcome],
    backtester: Backtester,
    periods: float,
) -> WalkForwardResult:
    """Trade each split's chosen parameters on its test groups, recombine the paths, score."""
    defaults = strategy.validate()
    chosen = []
    for outcome in outcomes:
        best = outcome.best()
        chosen.append(defaults if best is None else strategy.validate(trial_params(best)))
    signals = backtester.signals(chosen)
    init_cash = config.backtest.init_cash

    # One simulation per group: its columns are the splits that test it, in path order.
    groups: list[SimulationArrays] = []
    for g, (start, stop) in enumerate(plan.groups):
        columns = select_columns(signals, plan.path_splits[:, g].tolist())
        groups.append(backtester.simulate(flat_at(columns, stop), start, stop))
    paths = chain(groups)
    path_metrics = chained_metrics(paths, periods)

    fold_rows = [
        _split_row(split, outcomes[split.fold], chosen[split.fold], signals, groups, backtester,
                   periods, ohlcv)
        for split in plan.splits
    ]  # fmt: skip
    folds_frame = pl.DataFrame(fold_rows, schema_overrides={"best_trial": pl.Int64}).with_columns(
        pl.col(c).cast(pl.Datetime("ms", "UTC"))
        for c in ("is_start", "is_end", "oos_start", "oos_end")
    )

    sharpes = path_metrics["sharpe_ratio"]
    # The median path; ties go to the lower path number (a stable sort keeps their order).
    representative = int(np.argsort(sharpes, kind="stable")[(len(sharpes) - 1) // 2])
    split_of_bar = np.concatenate(
        [np.full(stop - start, plan.path_splits[representative, g], dtype=np.int64)
         for g, (start, stop) in enumerate(plan.groups)]
    )  # fmt: skip
    equity = _equity_frame(
        [{"timestamp": ohlcv.timestamp, "equity": paths.values[:, representative],
          "returns": paths.returns[:, representative], "fold": split_of_bar}],
        init_cash,
    )  # fmt: skip
    trade_parts = []
    for g, group in enumerate(groups):
        records = group.positions[group.positions["col"] == representative]
        window = _GroupWindow(int(plan.path_splits[representative, g]), plan.groups[g][0])
        trade_parts.append(
            _fold_trades(records, ohlcv, window, float(paths.scales[g][representative]))  # type: ignore[arg-type]
        )
    trades = _trades_frame(trade_parts)
    stitched = _stitched_metrics(
        equity, trades, init_cash, periods, float(path_metrics["exposure"][representative])
    )
    summary: dict[str, Any] = {
        **stitched,
        "oos": dict(stitched),
        "scheme": "cpcv",
        "oos_start": _iso(pd.Timestamp(int(ohlcv.timestamp[0]), unit="ms", tz="UTC")),
        "oos_end": _iso(pd.Timestamp(int(ohlcv.timestamp[-1]), unit="ms", tz="UTC")),
        "n_folds": len(plan.splits),
        **selection_summary(
            folds_frame,
            equity,
            outcomes,
            chosen,
            strategy,
            backtester,
            config,
            (0, plan.n_bars),
        ),
        "cpcv": cpcv_summary(plan, path_metrics, representative),
    }
    return WalkForwardResult(
        folds=folds_frame,
        equity=equity,
        trades=trades,
        trials=_trials_frame(outcomes),
        summary=summary,
        paths=_paths_frame(plan, paths, ohlcv),
    )


def _split_row(
    split: Any,
    outcome: FoldOutcome,
    params: dict[str, Any],
    signals: Any,
    groups: list[SimulationArrays],
    backtester: Backtester,
    periods: float,
    ohlcv: OHLCV,
) -> dict[str, Any]:
    """A split's row of the folds table: training metrics, test-group metrics, counts."""
    is_row = segments_metrics(backtester, select_columns(signals, [split.fold]), split.train)
    is_row = is_row.iloc[0]
    # The split's own test results: its column in each of its groups' simulations.
    own = [_column(groups[g], path) for g, path in zip(split.test_groups, split.paths,
                                                         strict=True)]  # fmt: skip
    oos = {name: float(values[0]) for name, values in chained_metrics(chain(own), periods).items()}
    best = outcome.best()

    def time(index: int) -> pd.Timestamp:
        return pd.Timestamp(int(ohlcv.timestamp[index]), unit="ms", tz="UTC")

    row: dict[str, Any] = {
        "fold": split.fold,
        "is_start": time(split.train[0][0]),
        "is_end": time(split.train[-1][1] - 1),
        "oos_start": time(split.test[0][0]),
        "oos_end": time(split.test[-1][1] - 1),
        "is_bars": split.train_bars,
        "oos_bars": split.test_bars,
        "best_params": json.dumps(params, sort_keys=True),
        "best_value": math.nan if best is None else float(best.value),
        "best_trial": None if best is None else best.number,
    }
    for name in FOLD_METRICS:
        row[f"is_{name}"] = float(is_row[name])
        row[f"oos_{name}"] = oos[name]
    row["wf_efficiency"] = walk_forward_efficiency(float(is_row["cagr"]), oos["cagr"])
    row.update(outcome.counts())
    row["n_evaluated_here"] = outcome.n_evaluated_here
    row["study_name"] = outcome.study_name
    return row


def _column(arrays: SimulationArrays, column: int) -> SimulationArrays:
    """One column of a simulation, as a one-column simulation."""
    records = arrays.positions[arrays.positions["col"] == column].copy()
    records["col"] = 0
    return SimulationArrays(arrays.values[:, [column]], records, arrays.init_cash)


def cpcv_summary(
    plan: CpcvPlan, path_metrics: dict[str, np.ndarray], representative: int
) -> dict[str, Any]:
    """``summary["cpcv"]``: the scheme, the OOS Sharpe distribution over paths, each path."""
    sharpes = np.asarray(path_metrics["sharpe_ratio"], dtype=float)
    distribution = {
        "mean": float(sharpes.mean()),
        "std": float(sharpes.std(ddof=1)) if sharpes.size > 1 else 0.0,
        "min": float(sharpes.min()),
        "max": float(sharpes.max()),
        "share_below_zero": float((sharpes < 0).mean()),
        "quantiles": {f"{q:g}": float(np.quantile(sharpes, q)) for q in PATH_QUANTILES},
    }
    return json_safe(
        {
            "n_groups": plan.n_groups,
            "n_test_groups": plan.n_test_groups,
            "n_splits": len(plan.splits),
            "n_paths": plan.n_paths,
            "purge_bars": plan.purge_bars,
            "embargo_bars": plan.embargo_bars,
            "representative_path": representative,
            "sharpe_ratio": distribution,
            "paths": [
                {
                    "path": j,
                    "splits": plan.path_splits[j].tolist(),
                    **{
                        name: float(path_metrics[name][j])
                        for name in (
                            "sharpe_ratio",
                            "total_return",
                            "cagr",
                            "max_drawdown",
                            "trade_count",
                        )
                    },
                }
                for j in range(plan.n_paths)
            ],
            "groups": [
                {"group": g, "start_index": a, "stop_index": b}
                for g, (a, b) in enumerate(plan.groups)
            ],
            "splits": [
                {
                    "fold": s.fold,
                    "test_groups": list(s.test_groups),
                    "paths": list(s.paths),
                    "train_bars": s.train_bars,
                    "test_bars": s.test_bars,
                }
                for s in plan.splits
            ],
        }
    )


def _paths_frame(plan: CpcvPlan, paths: Any, ohlcv: OHLCV) -> pl.DataFrame:
    """Every path's curve, long format (``results.PATH_SCHEMA``)."""
    n_bars, n_paths = paths.values.shape
    group_of_bar = np.concatenate(
        [np.full(b - a, g, dtype=np.int64) for g, (a, b) in enumerate(plan.groups)]
    )
    peaks = np.maximum(np.maximum.accumulate(paths.values, axis=0), paths.init_cash)
    drawdown = np.zeros_like(paths.values)
    np.divide(paths.values, peaks, out=drawdown, where=peaks > 0)
    drawdown -= 1.0
    split_of_bar = plan.path_splits[:, group_of_bar]  # (paths, bars)
    frame = pl.DataFrame(
        {
            "path": np.repeat(np.arange(n_paths, dtype=np.int64), n_bars),
            "timestamp": np.tile(ohlcv.timestamp, n_paths),
            "equity": paths.values.T.reshape(-1),
            "returns": paths.returns.T.reshape(-1),
            "drawdown": drawdown.T.reshape(-1),
            "group": np.tile(group_of_bar, n_paths),
            "fold": split_of_bar.reshape(-1),
        }
    )
    return frame.with_columns(_to_utc(pl.col("timestamp"))).select(list(PATH_SCHEMA))
