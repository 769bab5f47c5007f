"""The validation every study gets after its searches: bootstrap confidence, a trade-order
Monte Carlo, parameter plateaus, the engine cross-check and the verdict, added to the summary
under stable keys.

``SUMMARY_KEYS`` lists every key a study summary holds, with its meaning: the contract the
CLI's ``--json``, the published study files and the API read (the README repeats it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from maestro_pipeline.engine.bootstrap import bootstrap_returns, trade_order_monte_carlo
from maestro_pipeline.engine.metrics import json_safe
from maestro_pipeline.engine.strategy import OHLCV, Strategy
from maestro_pipeline.engine.verdict import judge
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.cross_check import cross_check
from maestro_pipeline.engine.walk_forward.outcome import FoldOutcome
from maestro_pipeline.engine.walk_forward.plateau import plateau_summary
from maestro_pipeline.engine.walk_forward.results import WalkForwardResult

SUMMARY_KEYS: dict[str, str] = {
    "<metric>": "stitched OOS metrics (sharpe_ratio, total_return, cagr, max_drawdown, "
    "trade_count, ...; cpcv: of the representative path), also under 'oos'",
    "scheme": "walk_forward or cpcv",
    "oos_start": "first OOS bar (ISO-8601 UTC)",
    "oos_end": "last OOS bar",
    "n_folds": "searches: walk-forward folds or cpcv splits",
    "wf_efficiency": "median over searches of OOS CAGR / IS CAGR (defined searches only)",
    "param_stability": "per parameter, how much the chosen value moves across searches",
    "n_trials_total": "trials of every search",
    "n_trials_feasible": "complete or pruned trials",
    "n_evaluated_here": "trials this run evaluated (the rest were resumed)",
    "deflated_sharpe_ratio": "P(true OOS Sharpe > SR0), SR0 from each search's effective "
    "trials (statistics module)",
    "deflated_sharpe": "DSR details: sharpe, expected_max_sharpe, n_obs, skewness, kurtosis, "
    "n_trials, effective_trials, trial_sharpe_variance, and per search 'folds'",
    "pbo": "probability of backtest overfitting (CSCV)",
    "pbo_details": "n_configurations, n_partitions, n_combinations, span",
    "cpcv": "cpcv only (else null): n_groups, n_test_groups, n_splits, n_paths, purge_bars, "
    "embargo_bars, representative_path, sharpe_ratio {mean, std, min, max, "
    "share_below_zero, quantiles}, paths [{path, splits, sharpe_ratio, total_return, cagr, "
    "max_drawdown, trade_count}], groups, splits",
    "bootstrap": "stationary block bootstrap of the OOS returns: block_length, n_resamples, "
    "confidence, seed, n_obs, {sharpe_ratio, cagr, max_drawdown, total_return}: {estimate, "
    "low, high, std}, probability_of_loss, fan {index, timestamps, quantiles}",
    "trade_monte_carlo": "closed OOS trades reordered: n_trades, n_shuffles, seed, "
    "observed_max_drawdown, total_return, max_drawdown {mean, q05, median, q95, worst}, "
    "probability_worse",
    "plateau": "score (median over searches), objective, radius, min_neighbours, n_scored, "
    "folds [{fold, score, n_neighbours, n_trials, best_value, trials_median, "
    "neighbours_median}], importance {param: share}, heatmap {x, y, values, counts, chosen}",
    "cross_check": "the OOS windows re-run on the other engine (cross_check module): engine "
    "(v1 for a v2 study), tolerance, passed (null when not run), max_deviation, unsupported "
    "(why it could not run, else null), folds [{fold, sharpe_v2, sharpe_v1, return_v2, "
    "return_v1, trades_v2, trades_v1, deviation {sharpe, total_return, trade_count}}], "
    "floors {sharpe, total_return, trade_count}, seconds",
    "verdict": "robust | fragile | overfit | insufficient",
    "verdict_details": "reasons [text], checks [{name, value, status, reason}], thresholds",
    "timings": "seconds: sampling, optuna_ask, optuna_storage, backtesting, validation "
    "(cross_check included), cross_check, other, total",
    "strategy": "strategy name",
    "study_prefix": "prefix of the Optuna study names",
    "config": "the study spec (WalkForwardConfig.as_dict)",
    "config_fingerprint": "hash of the spec",
    "data_fingerprint": "identity of the bars",
    "n_bars": "bars studied",
    "periods_per_year": "bars per year used to annualize",
}


def validation_summary(
    result: WalkForwardResult,
    outcomes: Sequence[FoldOutcome],
    strategy: Strategy,
    config: WalkForwardConfig,
    periods: float,
    ohlcv: OHLCV,
    groups: Sequence[tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """``bootstrap``, ``trade_monte_carlo``, ``plateau``, ``cross_check``, ``verdict`` and
    ``verdict_details`` of a study whose other statistics are already in its summary
    (``groups``: a cpcv plan's group windows)."""
    returns = result.equity.get_column("returns").to_numpy()
    bootstrap = bootstrap_returns(returns, periods, seed=config.seed)
    fan = bootstrap.get("fan")
    if fan is not None:
        times = result.equity.get_column("timestamp")
        fan["timestamps"] = [times[i].isoformat() for i in fan["index"]]
    closed = result.trades.filter(pl.col("status") == "closed").get_column("return")
    trades = trade_order_monte_carlo(closed.to_numpy(), seed=config.seed)
    plateau = plateau_summary(outcomes, strategy.space, config.objective)
    windows = [outcome.fold for outcome in outcomes]
    checked = cross_check(ohlcv, strategy, config, windows, result.folds, periods, groups)
    added: dict[str, Any] = {
        "bootstrap": json_safe(bootstrap),
        "trade_monte_carlo": json_safe(trades),
        "plateau": plateau,
        "cross_check": checked,
    }
    judged = judge({**result.summary, **added})
    added["verdict"] = judged.pop("verdict")
    added["verdict_details"] = json_safe(judged)
    return added
