"""Assembling a walk-forward study's results: folds, stitched OOS equity and trades, trials.

Stitching: each fold's OOS simulation starts from cash and closes any position on its last
bar, so the folds chain exactly: fold ``k + 1`` starts from fold ``k``'s final equity, and
its trades' money amounts are scaled to that equity. Folds without any feasible trial (every
trial below ``min_trades``) trade the strategy's defaults and report ``best_value`` NaN.
``selection_summary`` (DSR, PBO, WF efficiency, parameter stability) serves both schemes;
cpcv studies are assembled in ``cpcv_study``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from optuna.trial import TrialState

from maestro_pipeline.engine.metrics import (
    FOLD_METRICS,
    METRIC_NAMES,
    floor_at_ruin,
    json_safe,
    return_metrics,
    returns_from_values,
)
from maestro_pipeline.engine.splits import WalkForwardFold
from maestro_pipeline.engine.strategy import OHLCV, Strategy
from maestro_pipeline.engine.walk_forward.batched import INFEASIBLE_ATTR
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.objective import Backtester, flat_at, select_columns
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.params import params_key, trial_params
from maestro_pipeline.engine.walk_forward.searches import in_sample_rows, out_of_sample_bars
from maestro_pipeline.engine.walk_forward.statistics import (
    deflated_sharpe_summary,
    n_feasible_trials,
    parameter_stability,
    pbo_summary,
    trial_returns,
    walk_forward_efficiency,
)

PATH_SCHEMA = {
    "path": pl.Int64,
    "timestamp": pl.Datetime("ms", "UTC"),
    "equity": pl.Float64,
    "returns": pl.Float64,
    "drawdown": pl.Float64,
    "group": pl.Int64,
    "fold": pl.Int64,
}


@dataclass
class WalkForwardResult:
    """A study's outcome (``scheme`` walk_forward or cpcv).

    * ``folds``: one row per search (a walk-forward fold or a cpcv split): windows as UTC
      datetimes (a cpcv split's first and last training and test bars), best parameters as
      JSON, IS and OOS metrics, walk-forward efficiency, trial counts, study name. The same
      columns for both schemes; a split's test groups are in ``summary["cpcv"]["splits"]``.
    * ``equity``: the OOS curve (timestamp, equity, returns, drawdown, fold): walk-forward
      folds stitched, each starting from the previous fold's final equity; for cpcv the
      representative path (``summary["cpcv"]["representative_path"]``), ``fold`` being the
      split that traded each bar.
    * ``trades``: the trades of that curve, money amounts in its currency.
    * ``trials``: every trial of every search (fold, number, state, value, params as JSON).
    * ``paths``: cpcv only (empty for walk-forward): every backtest path's OOS curve, long
      format (path, timestamp, equity, returns, drawdown, group, fold).
    * ``summary``: JSON-friendly dict; its keys are listed in ``validation.SUMMARY_KEYS``
      and explained in the README (stitched OOS metrics at the top level and under ``oos``,
      ``deflated_sharpe_ratio``, ``pbo``, ``wf_efficiency``, ``param_stability``,
      ``bootstrap``, ``trade_monte_carlo``, ``plateau``, ``cpcv``, ``verdict``, counts and
      ``timings`` in seconds).
    """

    folds: pl.DataFrame
    equity: pl.DataFrame
    trades: pl.DataFrame
    trials: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    paths: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PATH_SCHEMA))


TRADE_SCHEMA = {
    "fold": pl.Int64,
    "side": pl.String,
    "entry_time": pl.Datetime("ms", "UTC"),
    "exit_time": pl.Datetime("ms", "UTC"),
    "entry_price": pl.Float64,
    "exit_price": pl.Float64,
    "size": pl.Float64,
    "fees": pl.Float64,
    "pnl": pl.Float64,
    "return": pl.Float64,
    "status": pl.String,
}
TRIAL_SCHEMA = {
    "fold": pl.Int64,
    "number": pl.Int64,
    "state": pl.String,
    "value": pl.Float64,
    "params": pl.String,
    "infeasible": pl.Boolean,
    "last_step": pl.Int64,
    "is_sharpe_per_bar": pl.Float64,
}


def assemble(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    folds: list[WalkForwardFold],
    outcomes: list[FoldOutcome],
    backtester: Backtester,
    periods: float,
) -> WalkForwardResult:
    """Trade each fold's chosen parameters out of sample, stitch, and score the whole."""
    defaults = strategy.validate()
    chosen: list[dict[str, Any]] = []
    for outcome in outcomes:
        best = outcome.best()
        # No feasible trial in-sample: fall back to the documented defaults (best_value NaN).
        chosen.append(defaults if best is None else strategy.validate(trial_params(best)))
    signals = backtester.signals(chosen)

    fold_rows: list[dict[str, Any]] = []
    equity_parts: list[dict[str, np.ndarray]] = []
    trade_parts: list[pd.DataFrame] = []
    init_cash = config.backtest.init_cash
    level = init_cash  # Equity at the start of the current fold's OOS window.
    for k, (fold, outcome) in enumerate(zip(folds, outcomes, strict=True)):
        column = select_columns(signals, [k])
        is_row = backtester.metrics(column, fold.is_start, fold.is_stop).iloc[0]
        flat = flat_at(column, fold.oos_stop)
        oos_row = backtester.metrics(flat, fold.oos_start, fold.oos_stop).iloc[0]
        simulated = backtester.simulate(flat, fold.oos_start, fold.oos_stop)
        values = floor_at_ruin(simulated.values[:, 0])
        scale = level / init_cash
        equity_parts.append(
            {
                "timestamp": ohlcv.timestamp[fold.oos_start : fold.oos_stop],
                "equity": values * scale,
                "returns": returns_from_values(values[:, None], init_cash)[:, 0],
                "fold": np.full(fold.oos_bars, fold.fold, dtype=np.int64),
            }
        )
        trade_parts.append(_fold_trades(simulated.positions, ohlcv, fold, scale))
        level = float(values[-1]) * scale

        best = outcome.best()
        row: dict[str, Any] = {
            "fold": fold.fold,
            "is_start": fold.is_first_time,
            "is_end": fold.is_last_time,
            "oos_start": fold.oos_first_time,
            "oos_end": fold.oos_last_time,
            "is_bars": fold.is_bars,
            "oos_bars": fold.oos_bars,
            "best_params": json.dumps(chosen[k], sort_keys=True),
            "best_value": math.nan if best is None else float(best.value),
            "best_trial": None if best is None else best.number,
        }
        for name in FOLD_METRICS:
            row[f"is_{name}"] = float(is_row[name])
            row[f"oos_{name}"] = float(oos_row[name])
        row["wf_efficiency"] = walk_forward_efficiency(
            float(is_row["cagr"]), float(oos_row["cagr"])
        )
        row.update(outcome.counts())
        row["n_evaluated_here"] = outcome.n_evaluated_here
        row["study_name"] = outcome.study_name
        fold_rows.append(row)

    folds_frame = pl.DataFrame(fold_rows, schema_overrides={"best_trial": pl.Int64}).with_columns(
        pl.col(c).cast(pl.Datetime("ms", "UTC"))
        for c in ("is_start", "is_end", "oos_start", "oos_end")
    )
    equity = _equity_frame(equity_parts, init_cash)
    trades = _trades_frame(trade_parts)
    trials = _trials_frame(outcomes)

    # Bars holding a position over all OOS bars (each fold's exposure weighted by its bars).
    exposure = float(
        (folds_frame["oos_exposure"] * folds_frame["oos_bars"]).sum()
        / folds_frame["oos_bars"].sum()
    )
    stitched = _stitched_metrics(equity, trades, init_cash, periods, exposure)
    summary: dict[str, Any] = {
        **stitched,
        "oos": dict(stitched),
        "scheme": "walk_forward",
        "oos_start": _iso(folds[0].oos_first_time),
        "oos_end": _iso(folds[-1].oos_last_time),
        "n_folds": len(folds),
        **selection_summary(
            folds_frame,
            equity,
            outcomes,
            chosen,
            strategy,
            backtester,
            config,
            (folds[0].is_start, folds[-1].oos_stop),
        ),
        "cpcv": None,
    }
    return WalkForwardResult(
        folds=folds_frame, equity=equity, trades=trades, trials=trials, summary=summary
    )


def selection_summary(
    folds_frame: pl.DataFrame,
    equity: pl.DataFrame,
    outcomes: list[FoldOutcome],
    chosen: list[dict[str, Any]],
    strategy: Strategy,
    backtester: Backtester,
    config: WalkForwardConfig,
    span: tuple[int, int],
) -> dict[str, Any]:
    """The selection-bias statistics of a study's searches, either scheme (``statistics``)."""
    wfe = folds_frame.get_column("wf_efficiency").to_numpy()
    finite_wfe = wfe[np.isfinite(wfe)]
    windows = [outcome.fold for outcome in outcomes]
    sampled = trial_returns(outcomes, span[0], span[1], backtester, config.seed)
    summary: dict[str, Any] = {
        "wf_efficiency": float(np.median(finite_wfe)) if finite_wfe.size else None,
        "param_stability": json_safe(parameter_stability(chosen, strategy.space)),
        "n_trials_total": sum(len(o.trials) for o in outcomes),
        "n_trials_feasible": n_feasible_trials(outcomes),
        "n_evaluated_here": sum(o.n_evaluated_here for o in outcomes),
    }
    summary.update(
        deflated_sharpe_summary(
            equity.get_column("returns").to_numpy(),
            outcomes,
            sampled,
            [in_sample_rows(w) for w in windows],
            [out_of_sample_bars(w) for w in windows],
        )
    )
    summary.update(pbo_summary(sampled))
    return summary


def _fold_trades(
    records: np.ndarray, ohlcv: OHLCV, fold: WalkForwardFold, scale: float
) -> pd.DataFrame:
    """One fold's OOS round trips (vectorbt position records) with UTC times and scaled money."""
    offset = fold.oos_start
    is_open = records["status"] == 0  # vectorbt's TradeStatus.Open
    return pd.DataFrame(
        {
            "fold": np.full(len(records), fold.fold, dtype=np.int64),
            "side": np.where(records["direction"] == 0, "long", "short"),
            "entry_time": ohlcv.timestamp[offset + records["entry_idx"]],
            "exit_time": np.where(is_open, -1, ohlcv.timestamp[offset + records["exit_idx"]]),
            "entry_price": records["entry_price"].astype(float),
            "exit_price": np.where(is_open, np.nan, records["exit_price"]),
            "size": records["size"] * scale,
            "fees": (records["entry_fees"] + records["exit_fees"]) * scale,
            "pnl": records["pnl"] * scale,
            "return": records["return"].astype(float),
            "status": np.where(is_open, "open", "closed"),
        }
    )


def _to_utc(column: pl.Expr) -> pl.Expr:
    return column.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _equity_frame(parts: list[dict[str, np.ndarray]], init_cash: float) -> pl.DataFrame:
    columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    # Stitched per-bar returns: each fold's first bar is measured against its own starting
    # cash, which is exactly the previous fold's final equity after chaining.
    equity = columns["equity"]
    peaks = np.maximum.accumulate(np.concatenate([[init_cash], equity]))[1:]
    drawdown = np.zeros_like(equity)
    np.divide(equity, peaks, out=drawdown, where=peaks > 0)
    drawdown -= 1.0
    return pl.DataFrame(
        {
            "timestamp": columns["timestamp"],
            "equity": equity,
            "returns": columns["returns"],
            "drawdown": drawdown,
            "fold": columns["fold"],
        }
    ).with_columns(_to_utc(pl.col("timestamp")))


def _trades_frame(parts: list[pd.DataFrame]) -> pl.DataFrame:
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return pl.DataFrame(schema=TRADE_SCHEMA)
    out = pl.from_pandas(frame)
    return out.with_columns(
        _to_utc(pl.col("entry_time")),
        _to_utc(pl.when(pl.col("exit_time") >= 0).then(pl.col("exit_time"))).alias("exit_time"),
    ).select(list(TRADE_SCHEMA))


def _trials_frame(outcomes: list[FoldOutcome]) -> pl.DataFrame:
    rows = []
    for outcome in outcomes:
        for trial in outcome.trials:
            params = trial_params(trial)
            rows.append(
                {
                    "fold": outcome.fold.fold,
                    "number": trial.number,
                    "state": trial.state.name,
                    "value": math.nan if trial.value is None else float(trial.value),
                    "params": json.dumps(params, sort_keys=True),
                    "infeasible": INFEASIBLE_ATTR in trial.user_attrs,
                    "last_step": trial.last_step,
                    "is_sharpe_per_bar": outcome.is_sharpes.get(params_key(params))
                    if trial.state == TrialState.COMPLETE
                    else None,
                }
            )
    return pl.DataFrame(rows, schema=TRIAL_SCHEMA)


def _stitched_metrics(
    equity: pl.DataFrame, trades: pl.DataFrame, init_cash: float, periods: float, exposure: float
) -> dict[str, Any]:
    values = equity.get_column("equity").to_numpy()
    metrics = {
        k: float(v[0]) for k, v in return_metrics(values[:, None], init_cash, periods).items()
    }
    closed = trades.filter(pl.col("status") == "closed")
    pnl = closed.get_column("pnl").to_numpy()
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())
    metrics.update(
        trade_count=float(trades.height),
        win_rate=float((pnl > 0).mean()) if pnl.size else 0.0,
        profit_factor=(gross_profit / gross_loss)
        if gross_loss > 0
        else (math.inf if gross_profit > 0 else 0.0),
        average_trade_return=float(closed.get_column("return").mean() or 0.0)
        if closed.height
        else 0.0,
        exposure=exposure,
        final_equity=float(values[-1]),
        oos_bars=int(values.size),
    )
    return json_safe({k: metrics[k] for k in (*METRIC_NAMES, "final_equity", "oos_bars")})


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()
