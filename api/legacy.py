"""The old stack's result shape (``?schema=v1``): backtrader's ``analyzers.PyFolio`` figures
under their pyfolio names and ``observers.BuySell`` fill markers."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from api.models import LegacyStudy, LegacyTrade
from maestro_pipeline.engine.metrics import finite_or_none
from maestro_pipeline.keys import StudyKey

PYFOLIO_NAMES = {
    "Annual return": "cagr",
    "Cumulative returns": "total_return",
    "Annual volatility": "volatility",
    "Sharpe ratio": "sharpe_ratio",
    "Calmar ratio": "calmar_ratio",
    "Max drawdown": "max_drawdown",
    "Sortino ratio": "sortino_ratio",
}


def _fills(trades: pl.DataFrame) -> list[LegacyTrade]:
    """Each trade as its entry fill and, once closed, its exit fill (buy opens a long)."""
    fills: list[LegacyTrade] = []
    for row in trades.iter_rows(named=True):
        opening, closing = ("buy", "sell") if row["side"] == "long" else ("sell", "buy")
        fills.append(
            LegacyTrade(
                datetime=row["entry_time"],
                type=opening,
                price=row["entry_price"],
                size=row["size"],
            )
        )
        exit_price = finite_or_none(row["exit_price"])
        if row["exit_time"] is not None and exit_price is not None:
            fills.append(
                LegacyTrade(
                    datetime=row["exit_time"], type=closing, price=exit_price, size=row["size"]
                )
            )
    return sorted(fills, key=lambda fill: fill.datetime)


def legacy_study(
    key: StudyKey, summary: dict[str, Any], folds: pl.DataFrame, trades: pl.DataFrame
) -> LegacyStudy:
    oos = summary.get("oos", summary)
    last_fold = folds.sort("fold").tail(1)
    params = json.loads(last_fold.get_column("best_params")[0]) if last_fold.height else {}
    return LegacyStudy(
        id=key.study_id,
        strategy=key.strategy,
        symbol=key.symbol,
        timeframe=key.timeframe,
        params=params,
        analyzers={
            "PyFolio": {name: finite_or_none(oos.get(src)) for name, src in PYFOLIO_NAMES.items()}
        },
        observers={"BuySell": _fills(trades)},
    )
