"""The engine cross-check every study gets: its out-of-sample trades re-run on the other engine.

A study on v2 (vectorbt) re-runs the parameters each search chose on v1 (Backtrader,
event-driven), window by window exactly as the study traded them: a walk-forward fold's OOS
window from cash, flat on its last bar; a cpcv split's test groups each from cash, flat on
their last bar, chained. The same signals, settings and fill convention go in, so the two
engines must agree; a difference means one of them does not simulate what the convention
says, and the study's numbers are in doubt. (A study run on v1 is checked on v2 the same way.)

Per search the check compares the OOS Sharpe ratio, total return and trade count, each by
its relative deviation ``|a - b| / max(|a|, |b|, floor)``. The floor keeps values near zero
from turning a negligible difference into a huge ratio: below the floor the deviation is
the absolute difference measured in floors (``DEVIATION_FLOORS``: a tenth of a Sharpe unit,
one percentage point of return, one trade). The check passes when no deviation exceeds the
tolerance (``verdict.Thresholds.cross_check_tolerance``, 5 %). Settings the other engine
cannot express (``engines.check_settings``) leave it unrun (``passed`` null) and say why in
``unsupported``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import polars as pl

from maestro_pipeline.engine.backtest.result import SimulationArrays
from maestro_pipeline.engine.backtest.settings import SettingsError
from maestro_pipeline.engine.backtest.tables import metric_arrays
from maestro_pipeline.engine.cpcv import CpcvSplit
from maestro_pipeline.engine.engines import Simulator, check_settings, simulator
from maestro_pipeline.engine.metrics import json_safe
from maestro_pipeline.engine.splits import WalkForwardFold
from maestro_pipeline.engine.strategy import OHLCV, Strategy, strategy_signals
from maestro_pipeline.engine.verdict import THRESHOLDS
from maestro_pipeline.engine.walk_forward.config import WalkForwardConfig
from maestro_pipeline.engine.walk_forward.objective import flat_at, select_columns
from maestro_pipeline.engine.walk_forward.segments import chain, chained_metrics

# Below these magnitudes a deviation is measured against the floor instead of the values.
DEVIATION_FLOORS = {"sharpe": 0.1, "total_return": 0.01, "trade_count": 1.0}
# The compared figures: deviation key -> metric name.
_COMPARED = {"sharpe": "sharpe_ratio", "total_return": "total_return", "trade_count": "trade_count"}


def relative_deviation(a: float, b: float, floor: float) -> float:
    """``|a - b| / max(|a|, |b|, floor)``: 0 for equal values, at most 2."""
    return abs(a - b) / max(abs(a), abs(b), floor)


def other_engine(engine_version: str) -> str:
    """The engine that checks a study run on ``engine_version``."""
    return "v1" if engine_version == "v2" else "v2"


def cross_check(
    ohlcv: OHLCV,
    strategy: Strategy,
    config: WalkForwardConfig,
    windows: Sequence[WalkForwardFold | CpcvSplit],
    folds: pl.DataFrame,
    periods: float,
    groups: Sequence[tuple[int, int]] | None = None,
    simulate: Simulator | None = None,
) -> dict[str, Any]:
    """``summary["cross_check"]`` of a study whose searches chose ``folds["best_params"]``.

    ``folds`` holds the study's own OOS figures (``oos_sharpe_ratio``, ``oos_total_return``,
    ``oos_trade_count``); ``groups`` are a cpcv plan's group windows (``CpcvPlan.groups``).
    ``simulate`` replaces the checking engine's simulation (same signature as
    ``engines.simulator``'s).
    """
    started = time.perf_counter()
    checker = other_engine(config.engine_version)
    tolerance = THRESHOLDS.cross_check_tolerance
    settings = config.backtest
    report: dict[str, Any] = {
        "engine": checker,
        "tolerance": tolerance,
        "passed": None,
        "max_deviation": None,
        "unsupported": None,
        "folds": [],
        "floors": dict(DEVIATION_FLOORS),
    }
    try:
        check_settings(checker, settings)  # type: ignore[arg-type]
    except SettingsError as exc:
        report["unsupported"] = str(exc)
        report["seconds"] = time.perf_counter() - started
        return report
    simulate = simulate or simulator(checker)  # type: ignore[arg-type]
    chosen = [strategy.validate(json.loads(text)) for text in folds.get_column("best_params")]
    signals = strategy_signals(ohlcv, strategy, chosen)
    ours = folds.select("oos_sharpe_ratio", "oos_total_return", "oos_trade_count").rows()
    rows = []
    for k, window in enumerate(windows):
        column = select_columns(signals, [k])
        if isinstance(window, CpcvSplit):
            if groups is None:
                raise ValueError("a cpcv study's cross-check needs the plan's groups")
            parts = [
                _simulate(simulate, ohlcv, column, settings, *groups[g]) for g in window.test_groups
            ]
            theirs = chained_metrics(chain(parts), periods)
        else:
            part = _simulate(simulate, ohlcv, column, settings, window.oos_start, window.oos_stop)
            theirs = metric_arrays(part, periods)
        figures = {key: float(theirs[name][0]) for key, name in _COMPARED.items()}
        study = dict(zip(_COMPARED, ours[k], strict=True))
        by_engine = {config.engine_version: study, checker: figures}
        deviation = {
            key: relative_deviation(study[key], figures[key], DEVIATION_FLOORS[key])
            for key in _COMPARED
        }
        rows.append(
            {
                "fold": int(window.fold),
                "sharpe_v2": by_engine["v2"]["sharpe"],
                "sharpe_v1": by_engine["v1"]["sharpe"],
                "return_v2": by_engine["v2"]["total_return"],
                "return_v1": by_engine["v1"]["total_return"],
                "trades_v2": by_engine["v2"]["trade_count"],
                "trades_v1": by_engine["v1"]["trade_count"],
                "deviation": deviation,
            }
        )
    worst = max((max(row["deviation"].values()) for row in rows), default=0.0)
    report.update(folds=rows, max_deviation=worst, passed=bool(worst <= tolerance))
    report["seconds"] = time.perf_counter() - started
    return json_safe(report)


def _simulate(
    simulate: Simulator,
    ohlcv: OHLCV,
    column: Any,
    settings: Any,
    start: int,
    stop: int,
) -> SimulationArrays:
    """One window traded from cash and flat on its last bar, as the study traded it."""
    return simulate(ohlcv, flat_at(column, stop), settings, start, stop)
