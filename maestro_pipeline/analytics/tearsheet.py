"""QuantStats metrics and HTML tear sheets of a study's stitched out-of-sample returns.

Crypto trades every day, so annualization uses 365 days scaled to the bar length
(8,760 periods a year for 1h bars) instead of QuantStats' 252 trading days.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import matplotlib

# Reports are rendered on servers without a display.
matplotlib.use("Agg")
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import quantstats as qs  # noqa: E402

from maestro_pipeline.engine.metrics import finite_or_none  # noqa: E402

DAYS_PER_YEAR = 365


def returns_from_equity(equity: pl.DataFrame) -> pd.Series:
    """Per-bar simple returns of a stitched equity curve, on a tz-naive UTC index."""
    frame = equity.sort("timestamp")
    values = frame.get_column("equity").to_numpy()
    index = pd.DatetimeIndex(frame.get_column("timestamp").dt.replace_time_zone(None).to_numpy())
    series = pd.Series(values, index=index, name="strategy")
    return series.pct_change().fillna(0.0)


def buy_and_hold_returns(bars: pl.DataFrame, index: pd.DatetimeIndex) -> pd.Series:
    """Close-to-close returns of holding the symbol, aligned to ``index``."""
    closes = pd.Series(
        bars.get_column("close").to_numpy(),
        index=pd.DatetimeIndex(bars.get_column("timestamp").dt.replace_time_zone(None).to_numpy()),
    )
    aligned = closes.reindex(index).ffill()
    return aligned.pct_change().fillna(0.0).rename("benchmark")


def report_metrics(
    returns: pd.Series, benchmark: pd.Series, periods_per_year: float
) -> dict[str, dict[str, float | None]]:
    """Headline metrics of strategy and benchmark, computed by QuantStats."""
    periods = periods_per_year
    stats = qs.stats
    measures = {
        "total_return": lambda r: stats.comp(r),
        "cagr": lambda r: stats.cagr(r, periods=periods),
        "sharpe_ratio": lambda r: stats.sharpe(r, periods=periods),
        "sortino_ratio": lambda r: stats.sortino(r, periods=periods),
        "volatility": lambda r: stats.volatility(r, periods=periods),
        "max_drawdown": lambda r: stats.max_drawdown(r),
        "calmar_ratio": lambda r: stats.calmar(r, periods=periods),
        "win_rate": lambda r: stats.win_rate(r),
        "profit_factor": lambda r: stats.profit_factor(r),
    }
    return {
        name: {"strategy": finite_or_none(fn(returns)), "benchmark": finite_or_none(fn(benchmark))}
        for name, fn in measures.items()
    }


def full_metrics_table(returns: pd.Series, benchmark: pd.Series) -> list[dict[str, str]]:
    """QuantStats' full metrics table of the daily returns, as rows of display strings.

    The table the tear sheet shows, computed as the tear sheet computes it (daily returns, 365
    days a year): the report's table and its tear sheet agree, and the table costs a third of
    what it does on hourly bars. The headline metrics (``report_metrics``) keep the bar
    frequency.
    """
    table = qs.reports.metrics(
        daily_returns(returns),
        benchmark=daily_returns(benchmark),
        mode="full",
        display=False,
        periods_per_year=DAYS_PER_YEAR,
    )
    return [
        {"metric": str(metric), **{str(col): str(value) for col, value in row.items()}}
        for metric, row in table.iterrows()
        if str(metric).strip()
    ]


def daily_returns(returns: pd.Series) -> pd.Series:
    """Bar returns compounded into calendar-day (UTC) returns."""
    return (1.0 + returns).resample("1D").prod() - 1.0


def tearsheet_html(returns: pd.Series, benchmark: pd.Series, title: str) -> str:
    """QuantStats' HTML tear sheet (self-contained, SVG charts) of the daily returns.

    QuantStats' charts and tables are built for daily returns; drawn from hourly bars they take
    twice as long and show nothing more at a tear sheet's size. The headline metrics
    (``report_metrics``) keep the bar frequency.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tearsheet.html"
        qs.reports.html(
            daily_returns(returns),
            benchmark=daily_returns(benchmark),
            output=str(path),
            title=title,
            periods_per_year=DAYS_PER_YEAR,
        )
        return path.read_text()
