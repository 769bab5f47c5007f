"""Response bodies of a study's validation artifacts: the verdict, the bootstrap, the cpcv
paths, the parameter plateau and the engine cross-check (one endpoint each). The fields are
the study summary's (``engine/walk_forward/validation.py`` ``SUMMARY_KEYS``); numbers that
could not be computed are ``null``."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.models import Number, Scheme, VerdictName
from maestro_pipeline.engine.verdict import Thresholds


class _Open(BaseModel):
    # Statistics may gain figures; clients keep working when they do.
    model_config = ConfigDict(extra="allow")


class VerdictCheck(_Open):
    """One check of the verdict: the statistic it read and how it rated it."""

    name: str = Field(description="deflated_sharpe, pbo, bootstrap_sharpe, cpcv_paths, ...")
    value: Number = Field(description="the statistic (null: missing)")
    status: Literal["pass", "warn", "fail", "missing"]
    reason: str


VerdictThresholds = create_model(  # type: ignore[call-overload]
    "VerdictThresholds",
    __doc__="Where each check passes and fails (engine/verdict.py `Thresholds`).",
    **{f.name: (type(f.default), f.default) for f in fields(Thresholds)},
)


class Validation(BaseModel):
    """A study's verdict with the reasons, every check and the thresholds they used."""

    study_id: str
    scheme: Scheme
    verdict: VerdictName
    reasons: list[str] = Field(description="why, in words: failing and warning checks first")
    checks: list[VerdictCheck]
    thresholds: VerdictThresholds  # type: ignore[valid-type]
    oos_trade_count: Number = Field(description="OOS trades (too few: insufficient)")
    deflated_sharpe_ratio: Number = None
    pbo: Number = None
    wf_efficiency: Number = None


class Interval(_Open):
    """A statistic of the OOS returns and its bootstrap confidence interval."""

    estimate: Number = Field(description="the statistic of the observed returns")
    low: Number = None
    high: Number = None
    std: Number = Field(default=None, description="standard deviation over the resamples")


class Fan(BaseModel):
    """Quantiles of the resampled equity (growth of 1) at evenly spaced OOS bars, columnar."""

    timestamp: list[int] = Field(description="epoch milliseconds UTC")
    index: list[int] = Field(description="the bars' positions in the OOS equity")
    quantiles: dict[str, list[Number]] = Field(
        description="quantile ('0.05', '0.25', '0.5', ...) -> equity at each timestamp"
    )


class DrawdownDistribution(_Open):
    """Max drawdown over the trade orders (negative; q05 is the deep end)."""

    mean: Number = None
    q05: Number = None
    median: Number = None
    q95: Number = None
    worst: Number = None


class TradeMonteCarlo(_Open):
    """The closed OOS trades in random orders: how deep the drawdown could have been."""

    n_trades: int
    n_shuffles: int
    seed: int | None = None
    observed_max_drawdown: Number = Field(default=None, description="in the real order")
    total_return: Number = None
    max_drawdown: DrawdownDistribution | None = None
    probability_worse: Number = Field(
        default=None, description="share of orders with a deeper drawdown than the real one"
    )
    error: str | None = Field(default=None, description="why it was not computed")


class Bootstrap(BaseModel):
    """Stationary block bootstrap of the OOS returns: intervals, probability of a loss, fan;
    and the trade-order Monte Carlo."""

    study_id: str
    method: str = "stationary"
    block_length: Number = Field(default=None, description="mean block length, bars")
    n_resamples: int | None = None
    confidence: Number = Field(default=None, description="of the intervals, e.g. 0.95")
    seed: int | None = None
    n_obs: int | None = Field(default=None, description="OOS returns resampled")
    sharpe_ratio: Interval | None = None
    cagr: Interval | None = None
    max_drawdown: Interval | None = None
    total_return: Interval | None = None
    probability_of_loss: Number = Field(
        default=None, description="share of resamples losing money over the OOS span"
    )
    fan: Fan | None = None
    error: str | None = Field(default=None, description="why the bootstrap was not computed")
    trade_monte_carlo: TradeMonteCarlo | None = None


class PathDistribution(BaseModel):
    """OOS Sharpe ratio over the cpcv backtest paths."""

    mean: Number = None
    std: Number = None
    min: Number = None
    max: Number = None
    share_below_zero: Number = Field(default=None, description="share of paths with Sharpe < 0")
    quantiles: dict[str, Number] = Field(default_factory=dict, description="'0.05' -> Sharpe")


class PathMetrics(_Open):
    """One backtest path: the split that traded each group, its OOS figures."""

    path: int
    splits: list[int] = Field(description="per group, the split whose test result it holds")
    sharpe_ratio: Number = None
    total_return: Number = None
    cagr: Number = None
    max_drawdown: Number = None
    trade_count: Number = None


class CpcvGroup(BaseModel):
    """A contiguous group of bars (rows start_index..stop_index-1 of the study's bars)."""

    group: int
    start_index: int
    stop_index: int
    start: int | None = Field(default=None, description="first bar, epoch ms UTC")
    end: int | None = Field(default=None, description="last bar, epoch ms UTC")


class CpcvSplit(BaseModel):
    """A split: its test groups, the path each of them feeds, its bar counts."""

    fold: int
    test_groups: list[int]
    paths: list[int]
    train_bars: int
    test_bars: int


class PathEquity(BaseModel):
    """Every path's equity on the same bars, columnar (``points`` may thin the bars)."""

    count: int = Field(description="bars given per path")
    bars: int = Field(description="bars per path before thinning")
    timestamp: list[int] = Field(description="epoch milliseconds UTC")
    equity: list[list[Number]] = Field(description="one list per path, by path number")


class Cpcv(BaseModel):
    """A cpcv study's backtest paths: the OOS Sharpe distribution, each path's figures and
    equity, and the groups and splits that made them."""

    study_id: str
    n_groups: int
    n_test_groups: int
    n_splits: int
    n_paths: int
    purge_bars: int
    embargo_bars: int
    representative_path: int = Field(
        description="the median-Sharpe path: the study's equity, trades and headline figures"
    )
    sharpe_ratio: PathDistribution
    paths: list[PathMetrics]
    groups: list[CpcvGroup]
    splits: list[CpcvSplit]
    equity: PathEquity | None = Field(
        default=None, description="null for a study published before path equity was stored"
    )


class HeatmapAxis(BaseModel):
    """A heatmap axis: a parameter's bins (numeric) or its categories."""

    name: str
    kind: Literal["numeric", "categorical"]
    log: bool = False
    edges: list[float] | None = None
    centers: list[float] | None = None
    categories: list[Any] | None = None


class ChosenPoint(BaseModel):
    """The parameters a search chose, on the heatmap's two axes."""

    fold: int
    x: Any
    y: Any


class Heatmap(BaseModel):
    """Mean objective of every search's complete trials over two parameters."""

    x: HeatmapAxis
    y: HeatmapAxis
    values: list[list[Number]] = Field(description="rows: y bins, columns: x bins")
    counts: list[list[int]] = Field(description="trials per cell")
    chosen: list[ChosenPoint]


class PlateauFold(_Open):
    """One search's plateau score: how much of the best trial's lead its neighbours keep."""

    fold: int
    score: Number = None
    n_neighbours: int | None = None
    n_trials: int | None = None
    best_value: Number = None
    trials_median: Number = None


class Plateau(BaseModel):
    """Parameter plateaus: the stability score, each search's, importances and the heatmap."""

    study_id: str
    score: Number = Field(default=None, description="median over searches; 1 plateau, 0 spike")
    objective: str | None = None
    radius: Number = None
    min_neighbours: int | None = None
    n_scored: int = 0
    folds: list[PlateauFold] = Field(default_factory=list)
    importance: dict[str, float] = Field(
        default_factory=dict, description="share of the objective's variance per parameter"
    )
    heatmap: Heatmap | None = Field(default=None, description="null with fewer than 2 parameters")


class Deviation(_Open):
    """Relative deviations between the engines."""

    sharpe: Number = None
    total_return: Number = None
    trade_count: Number = None


class CrossCheckFold(_Open):
    """One fold's chosen parameters on both engines."""

    fold: int
    sharpe_v2: Number = None
    sharpe_v1: Number = None
    return_v2: Number = None
    return_v1: Number = None
    trades_v2: Number = None
    trades_v1: Number = None
    deviation: Deviation = Field(default_factory=Deviation)


class CrossCheck(_Open):
    """Each fold's chosen parameters re-run on the event-driven engine, and how far apart the
    engines land (``passed``: every deviation within ``tolerance``)."""

    study_id: str
    engine: str = Field(description="the engine re-running the folds (v1: event-driven)")
    tolerance: Number = None
    passed: bool | None = Field(default=None, description="null: not judged")
    max_deviation: Number = None
    unsupported: str | None = Field(
        default=None, description="why the strategy cannot run on that engine"
    )
    folds: list[CrossCheckFold] = Field(default_factory=list)
    seconds: Number = None
