"""Names that several layers must spell alike: symbols, study ids, partition keys, job names.

Dagster, the API and the CLI all build and parse these through this module, so their formats
are written once:

* a symbol ``BTC/USDT`` has the path-safe slug ``BTC-USDT`` (``BTC/USDT:USDT`` ->
  ``BTC-USDT_USDT``);
* a study is a strategy on one symbol at one timeframe: id ``ema_cross.BTC-USD.1h``, Dagster
  partition key ``BTC/USD@1h|ema_cross`` (dimensions ``series`` x ``strategy``; Dagster joins a
  multi-partition key's parts in dimension-name order);
* a market-data partition is a symbol-month: ``2019-01-01|BTC/USD`` (``month`` x ``symbol``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from maestro_pipeline.engine.timeframes import timeframe_ms

MARKET_DATA_JOB = "market_data_job"
WALK_FORWARD_JOB = "walk_forward_job"
LEADERBOARD_JOB = "leaderboard_job"
GRAPH_JOBS = (MARKET_DATA_JOB, WALK_FORWARD_JOB, LEADERBOARD_JOB)  # upstream first
STUDY_ASSET = "walk_forward_study"
STRATEGY_CODE_ASSET = "strategy_code"
BIAS_CHECK = "strategy_passes_bias_checks"
CROSS_CHECK = "engine_cross_check"

SYMBOL_DIM = "symbol"
MONTH_DIM = "month"
STRATEGY_DIM = "strategy"
SERIES_DIM = "series"
SERIES_SEPARATOR = "@"
PARTITION_SEPARATOR = "|"

_SYMBOL_RE = re.compile(r"^[A-Za-z0-9]{1,20}/[A-Za-z0-9]{1,20}(:[A-Za-z0-9]{1,20})?$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9]{1,20}-[A-Za-z0-9]{1,20}(_[A-Za-z0-9]{1,20})?$")
_STRATEGY_RE = re.compile(r"^[A-Za-z0-9_]*[A-Za-z0-9][A-Za-z0-9_]*$")


class UnknownSymbolError(ValueError):
    """A symbol that is malformed or has no bars."""


def symbol_slug(symbol: str) -> str:
    """'BTC/USDT' -> 'BTC-USDT', 'BTC/USDT:USDT' -> 'BTC-USDT_USDT'; rejects anything else."""
    if _SLUG_RE.match(symbol):
        return symbol
    if not _SYMBOL_RE.match(symbol):
        raise UnknownSymbolError(
            f"invalid symbol {symbol!r}: expected BASE/QUOTE such as 'BTC/USDT' "
            "(letters and digits)"
        )
    return symbol.replace("/", "-").replace(":", "_")


def slug_symbol(slug: str) -> str:
    """Inverse of :func:`symbol_slug`."""
    return slug.replace("-", "/", 1).replace("_", ":", 1)


def series_key(symbol: str, timeframe: str) -> str:
    """'BTC/USD@1h': one symbol at one timeframe, the market a study runs on."""
    return f"{symbol}{SERIES_SEPARATOR}{timeframe}"


def market_partition_key(symbol: str, month: str) -> str:
    """'2019-01-01|BTC/USD' for the symbol-month ('2019-01')."""
    return f"{month}-01{PARTITION_SEPARATOR}{symbol}"


def month_key(value: date | datetime | str) -> str:
    """'2019-01' for a date, a datetime or a Dagster monthly partition key ('2019-01-01')."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10] if len(value) > 7 else value + "-01")
    return f"{value.year:04d}-{value.month:02d}"


def month_of_partition(key: str) -> str:
    """'2019-01' from a market-data partition key ('2019-01-01|BTC/USD')."""
    return month_key(key.split(PARTITION_SEPARATOR, 1)[0])


@dataclass(frozen=True)
class StudyKey:
    """Which study: a strategy on one symbol at one timeframe."""

    strategy: str
    symbol: str
    timeframe: str

    def __post_init__(self) -> None:
        timeframe_ms(self.timeframe)
        symbol_slug(self.symbol)
        if not _STRATEGY_RE.match(self.strategy):
            raise ValueError(f"invalid strategy name {self.strategy!r}")

    @property
    def study_id(self) -> str:
        """URL-safe id: ``ema_cross.BTC-USD.1h``."""
        return f"{self.strategy}.{symbol_slug(self.symbol)}.{self.timeframe}"

    @property
    def series(self) -> str:
        """The ``series`` partition dimension: ``BTC/USD@1h``."""
        return series_key(self.symbol, self.timeframe)

    @property
    def partition_key(self) -> str:
        """The study asset's partition key: ``BTC/USD@1h|ema_cross``."""
        return f"{self.series}{PARTITION_SEPARATOR}{self.strategy}"

    @property
    def partition_dimensions(self) -> dict[str, str]:
        return {SERIES_DIM: self.series, STRATEGY_DIM: self.strategy}

    @classmethod
    def from_study_id(cls, study_id: str) -> StudyKey:
        """Inverse of :attr:`study_id`; ValueError names what is malformed."""
        parts = study_id.split(".")
        if len(parts) != 3:
            raise ValueError(
                f"invalid study id {study_id!r}: expected STRATEGY.BASE-QUOTE.TIMEFRAME "
                "such as 'ema_cross.BTC-USD.1h'"
            )
        strategy, slug, timeframe = parts
        return cls(strategy, slug_symbol(symbol_slug(slug)), timeframe)

    @classmethod
    def from_dimensions(cls, strategy: str, series: str) -> StudyKey:
        """From the partition's dimension keys (``ema_cross``, ``BTC/USD@1h``)."""
        symbol, timeframe = series.rsplit(SERIES_SEPARATOR, 1)
        return cls(strategy, symbol, timeframe)

    @classmethod
    def from_partition_key(cls, key: str) -> StudyKey:
        """Inverse of :attr:`partition_key`."""
        series, _, strategy = key.partition(PARTITION_SEPARATOR)
        if not strategy or SERIES_SEPARATOR not in series:
            raise ValueError(
                f"invalid study partition key {key!r}: expected SYMBOL@TIMEFRAME|STRATEGY such "
                "as 'BTC/USD@1h|ema_cross'"
            )
        return cls.from_dimensions(strategy, series)
