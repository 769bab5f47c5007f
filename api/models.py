"""Response and request bodies (pydantic); their docstrings are the OpenAPI descriptions.

Time series (bars, equity) are columnar: parallel arrays with ``timestamp`` in epoch
milliseconds UTC, which charts consume directly and which serialize fastest. Single instants
(fold windows, trades) are ISO 8601 UTC datetimes. Non-finite numbers are ``null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from maestro_pipeline.catalog import strategy_names
from maestro_pipeline.engine.metrics import FOLD_METRICS, METRIC_NAMES
from maestro_pipeline.engine.verdict import VERDICTS
from maestro_pipeline.engine.walk_forward.config import SettingInfo, setting_infos
from maestro_pipeline.storage.studies import HEADLINE_COLUMNS, HEADLINE_TEXT

Number = float | None
VerdictName = Literal[VERDICTS]  # type: ignore[valid-type]
Scheme = Literal["walk_forward", "cpcv"]
VERDICT_DESCRIPTION = (
    "robust | fragile | overfit | insufficient, from the thresholds of engine/verdict.py "
    "(the reasons: GET /optimization/{id}/validation)"
)


# Documented shapes of path parameters (the handlers validate with the storage layer's parsers
# and answer with messages naming the field; these patterns let clients and fuzzers know).
SYMBOL_PATTERN = (
    r"^[A-Za-z0-9]{1,20}(/[A-Za-z0-9]{1,20}(:[A-Za-z0-9]{1,20})?"
    r"|-[A-Za-z0-9]{1,20}(_[A-Za-z0-9]{1,20})?)$"
)
SYMBOL_SLUG_PATTERN = r"^[A-Za-z0-9]{1,20}-[A-Za-z0-9]{1,20}(_[A-Za-z0-9]{1,20})?$"
TIMEFRAME_PATTERN = r"^[1-9][0-9]{0,4}[mhdw]$"
STUDY_ID_PATTERN = (
    r"^[A-Za-z0-9_]*[A-Za-z0-9][A-Za-z0-9_]*\."
    r"[A-Za-z0-9]{1,20}-[A-Za-z0-9]{1,20}(_[A-Za-z0-9]{1,20})?\.[1-9][0-9]{0,4}[mhdw]$"
)


class Health(BaseModel):
    """Liveness and what the API can see."""

    status: Literal["ok"] = "ok"
    data_dir: str
    lake_exchange: str
    symbols: list[str] = Field(description="symbols with bars in the lake")
    timeframes: list[str] = Field(description="configured bar timeframes")
    studies_published: int
    studies_expected: int = Field(
        description="study partitions of the deployment (strategies x symbols x timeframes)"
    )
    studies_running: int = Field(description="studies whose run is in progress")
    leaderboard: bool = Field(description="whether the leaderboard is materialized")


class ParameterSpace(BaseModel):
    """Search space of one strategy parameter."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None


class StrategyInfo(BaseModel):
    """A strategy of the catalog: its rule, default parameters, search space and source."""

    name: str
    description: str
    defaults: dict[str, Any]
    space: dict[str, ParameterSpace]
    constraints: list[str] = Field(default_factory=list)
    warmup: int | None = Field(
        default=None, description="bars before the signals stop depending on the history's start"
    )
    version: str | None = Field(default=None, description="fingerprint of the strategy's code")
    source_kind: Literal["builtin", "file", "package"] = "builtin"
    source: str = Field(default="builtin", description="builtin, the file, or the package")
    error: str | None = Field(
        default=None, description="why the strategy cannot be loaded (file, line); null if it can"
    )


class Progress(BaseModel):
    """Live state of a study run, as the study asset writes it."""

    model_config = ConfigDict(extra="allow")

    study_id: str
    status: Literal["pending", "running", "completed", "failed"]
    run_id: str | None = None
    fold: int | None = None
    n_folds: int | None = None
    trials_done: int | None = None
    n_trials: int | None = None
    best_value: Number = None
    error: str | None = None
    updated_at: datetime | None = None


class _OpenModel(BaseModel):
    model_config = ConfigDict(extra="allow")


def numbers_model(name: str, doc: str, names: tuple[str, ...], base: type[BaseModel]) -> Any:
    """A model of optional numbers, one per metric name (the engine's lists define them)."""
    fields: dict[str, Any] = {metric: (Number, None) for metric in names}
    return create_model(name, __base__=base, __doc__=doc, **fields)


OosMetrics = numbers_model(
    "OosMetrics",
    "Stitched out-of-sample metrics (every fold's OOS window chained into one curve).",
    METRIC_NAMES,
    _OpenModel,
)


class StudySummary(BaseModel):
    """One study in the list: headline OOS figures, overfitting statistics and status."""

    study_id: str
    strategy: str
    symbol: str
    timeframe: str
    status: Literal["pending", "running", "completed", "failed"]
    published: bool = Field(description="whether results are published")
    version: str | None = None
    strategy_version: str | None = Field(
        default=None, description="fingerprint of the strategy code that produced the results"
    )
    strategy_source: str | None = Field(default=None, description="builtin, file or package")
    strategy_current_version: str | None = Field(
        default=None,
        description="the strategy's code version now; differs from strategy_version when the "
        "code changed since the study ran",
    )
    scheme: Scheme | None = Field(
        default=None, description="walk_forward folds or cpcv (combinatorial purged) splits"
    )
    verdict: VerdictName | None = Field(default=None, description=VERDICT_DESCRIPTION)
    oos: OosMetrics | None = None
    deflated_sharpe_ratio: Number = None
    pbo: Number = Field(default=None, description="probability of backtest overfitting (CSCV)")
    wf_efficiency: Number = Field(default=None, description="median walk-forward efficiency")
    n_folds: int | None = None
    n_trials_total: int | None = None
    oos_start: datetime | None = None
    oos_end: datetime | None = None
    progress: Progress | None = None


class StudyList(BaseModel):
    """Every published or running study."""

    count: int
    studies: list[StudySummary]


FoldMetrics = numbers_model(
    "FoldMetrics",
    "Metrics of one window (in-sample or out-of-sample) of a fold.",
    FOLD_METRICS,
    _OpenModel,
)


class Fold(BaseModel):
    """One walk-forward fold: windows, the parameters chosen in-sample, IS and OOS metrics."""

    fold: int
    is_start: datetime
    is_end: datetime
    oos_start: datetime
    oos_end: datetime
    is_bars: int
    oos_bars: int
    best_params: dict[str, Any]
    best_value: Number = None
    best_trial: int | None = None
    wf_efficiency: Number = None
    is_metrics: FoldMetrics
    oos_metrics: FoldMetrics
    trials: dict[str, int] = Field(description="trial counts by state")


class StudyDetail(StudySummary):
    """A published study: summary, per-fold results and overfitting diagnostics."""

    folds: list[Fold]
    param_stability: dict[str, Any] = Field(default_factory=dict)
    deflated_sharpe: dict[str, Any] | None = None
    pbo_details: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None


class LegacyTrade(BaseModel):
    """One fill marker of the old stack's ``BuySell`` observer."""

    datetime: datetime
    type: Literal["buy", "sell"]
    price: float
    size: float


class LegacyStudy(BaseModel):
    """The old stack's result shape (``?schema=v1``) for older clients."""

    id: str
    strategy: str
    symbol: str
    timeframe: str
    params: dict[str, Any] = Field(description="parameters chosen on the last fold")
    analyzers: dict[str, dict[str, Number]] = Field(description='{"PyFolio": {...}}')
    observers: dict[str, list[LegacyTrade]] = Field(description='{"BuySell": [...]}')


class Bars(BaseModel):
    """OHLCV bars of one symbol and timeframe, columnar, oldest first."""

    symbol: str
    timeframe: str
    exchange: str
    count: int
    truncated: bool = Field(description="true when `limit` cut older bars of the range")
    timestamp: list[int] = Field(description="bar open time, epoch milliseconds UTC")
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]


class Equity(BaseModel):
    """The stitched out-of-sample equity curve, columnar."""

    study_id: str
    count: int
    timestamp: list[int] = Field(description="epoch milliseconds UTC")
    equity: list[Number]
    returns: list[Number]
    drawdown: list[Number]
    fold: list[int]


class RoundTrip(BaseModel):
    """One round trip; an open one is marked to the last close (``exit_time`` null)."""

    model_config = ConfigDict(populate_by_name=True)

    side: Literal["long", "short"]
    entry_time: datetime
    exit_time: datetime | None = None
    entry_price: float
    exit_price: Number = None
    size: float
    fees: float
    pnl: Number = None
    return_: Number = Field(default=None, alias="return")
    status: Literal["open", "closed"]


class Trade(RoundTrip):
    """One out-of-sample trade (money in the stitched curve's currency)."""

    fold: int


class Trades(BaseModel):
    """Every out-of-sample trade of a study, in time order."""

    study_id: str
    count: int
    trades: list[Trade]


class Insights(BaseModel):
    """Optuna optimization history and parameter importances, per fold and overall."""

    model_config = ConfigDict(extra="allow")

    study_id: str
    folds: list[dict[str, Any]]
    importances: dict[str, float]
    evaluator: str | None = None


class ReportMetrics(BaseModel):
    """QuantStats metrics of the study's OOS returns against buy-and-hold."""

    model_config = ConfigDict(extra="allow")

    study_id: str
    metrics: dict[str, dict[str, Number]]
    quantstats_table: list[dict[str, str]] = Field(default_factory=list)


class _LeaderboardKeys(BaseModel):
    rank: int
    study_id: str
    strategy: str
    symbol: str
    timeframe: str
    strategy_version: str | None = Field(
        default=None, description="fingerprint of the strategy code that produced the study"
    )
    updated_at: datetime | None = None


def _headline_field(name: str) -> tuple[Any, Any]:
    """A leaderboard field: text columns take their listed values, the others are numbers."""
    if name in HEADLINE_TEXT:
        kind: Any = Literal[HEADLINE_TEXT[name]]  # type: ignore[valid-type]
        description = VERDICT_DESCRIPTION if name == "verdict" else None
        return kind | None, Field(default=None, description=description)
    return Number, None


LeaderboardRow = create_model(  # type: ignore[call-overload]
    "LeaderboardRow",
    __base__=_LeaderboardKeys,
    __doc__="A study's rank by out-of-sample Sharpe ratio, with its verdict and headline figures.",
    **{name: _headline_field(name) for name in HEADLINE_COLUMNS},
)


class Leaderboard(BaseModel):
    """Studies ranked by out-of-sample Sharpe ratio."""

    count: int
    rows: list[LeaderboardRow]


class StudyTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: str = Field(
        examples=["ema_cross"],
        description="a strategy of GET /strategies",
        json_schema_extra={"enum": strategy_names()},
    )
    symbol: str = Field(
        description="a configured symbol, 'BTC/USD' or its slug 'BTC-USD'",
        examples=["BTC/USD"],
        json_schema_extra={"pattern": SYMBOL_PATTERN},
    )
    timeframe: str = Field(
        description="a configured timeframe (a study needs a study timeframe)",
        examples=["1h"],
        json_schema_extra={"pattern": TIMEFRAME_PATTERN},
    )


def _setting_field(info: SettingInfo) -> tuple[Any, Any]:
    """An optional request field for one study setting, bounded as the spec bounds it."""
    kind: Any = Literal[info.choices] if info.choices else info.type  # type: ignore[valid-type]
    bounds: dict[str, Any] = {}
    if info.low is not None:
        bounds["gt" if info.low_open else "ge"] = info.low
    if info.high is not None:
        bounds["lt" if info.high_open else "le"] = info.high
    description = f"{info.description} (default: the deployment's, else {info.default!r})"
    return kind | None, Field(default=None, description=description, **bounds)


StudyRequest = create_model(
    "StudyRequest",
    __base__=StudyTarget,
    __doc__="A study to run: strategy x symbol x timeframe, and any study settings to override.",
    **{info.name: _setting_field(info) for info in setting_infos()},
)


class Column(BaseModel):
    """A table column: its field name, how people read it, and its number format."""

    name: str
    label: str
    format: Literal["ratio", "percent", "count", "text"]
    choices: list[str] | None = Field(
        default=None,
        description="the values a text column takes (the leaderboard filters on them)",
    )


class StudySetting(BaseModel):
    """One study setting a submission may override."""

    name: str
    type: Literal["int", "float", "bool", "str"]
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: list[str] | None = None


class Meta(BaseModel):
    """What clients render generically: the leaderboard's columns and the study settings."""

    leaderboard_columns: list[Column]
    study_settings: list[StudySetting]


class StudySubmitted(BaseModel):
    """A Dagster run launched for a study."""

    study_id: str
    run_id: str
    partition_key: str
    dagster_run_url: str
    progress_url: str = Field(description="WebSocket path streaming the run's progress")
