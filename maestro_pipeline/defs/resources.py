"""Resources: where bars come from, the Parquet lake and study store, the warehouse, Optuna.

Every field can be set per run in the Dagster launchpad. A field left unset (None) takes its
value from the ``MAESTRO_*`` environment when the run executes (``maestro_pipeline.settings``),
not when the definitions are loaded: the code location reads no deployment setting at import
except those that shape the definitions themselves (``partitions``, ``executors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from maestro_pipeline.settings import Settings, load_settings
from maestro_pipeline.sources import BarSource
from maestro_pipeline.storage.lake import Lake
from maestro_pipeline.storage.questdb import QuestDBConfig
from maestro_pipeline.storage.reports import ReportStore
from maestro_pipeline.storage.studies import StudyStore
from maestro_pipeline.storage.warehouse import DuckDBWarehouse, Warehouse


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


@dataclass(frozen=True)
class MarketData:
    """The bar source and how its bars are cleaned and resampled (resolved settings)."""

    source: str
    exchange: str
    exchange_url: str | None
    base_timeframe: str
    timeframes: list[str]
    page_limit: int
    retry_base_seconds: float
    max_gap_ratio: float

    @property
    def lake_exchange(self) -> str:
        """The lake's ``exchange=`` folder: the sample keeps apart from live downloads."""
        return "sample" if self.source == "sample" else self.exchange

    def client(self) -> BarSource:
        if self.source == "sample":
            from maestro_pipeline.sources.sample import SampleSource

            return SampleSource()
        if self.source == "ccxt":
            from maestro_pipeline.sources.exchange import CcxtSource

            return CcxtSource(
                self.exchange,
                base_url=self.exchange_url,
                page_limit=self.page_limit,
                retry_base_seconds=self.retry_base_seconds,
            )
        raise ValueError(f"unknown source {self.source!r}: use 'sample' or 'ccxt'")


class MarketDataResource(dg.ConfigurableResource):
    """The bar source and how its bars are cleaned and resampled."""

    source: str | None = Field(
        default=None, description="'sample' (bundled real data, offline) or 'ccxt'"
    )
    exchange: str | None = Field(default=None, description="ccxt exchange id")
    exchange_url: str | None = Field(
        default=None, description="override of the exchange's public REST API base URL"
    )
    base_timeframe: str | None = Field(
        default=None, description="timeframe downloaded from the source"
    )
    timeframes: list[str] | None = Field(default=None, description="timeframes written")
    page_limit: int = Field(default=1000, description="bars per exchange request")
    retry_base_seconds: float = Field(default=1.0, description="first backoff delay on errors")
    max_gap_ratio: float | None = Field(default=None, description="gap-ratio check threshold")

    def resolve(self) -> MarketData:
        """These fields, each unset one from the environment's settings."""
        settings = load_settings()
        return MarketData(
            source=_pick(self.source, settings.source),
            exchange=_pick(self.exchange, settings.exchange),
            exchange_url=self.exchange_url or settings.exchange_url,
            base_timeframe=_pick(self.base_timeframe, settings.base_timeframe),
            timeframes=list(_pick(self.timeframes, settings.all_timeframes)),
            page_limit=self.page_limit,
            retry_base_seconds=self.retry_base_seconds,
            max_gap_ratio=_pick(self.max_gap_ratio, settings.max_gap_ratio),
        )


class LakeResource(dg.ConfigurableResource):
    """Maestro's data directory: the Parquet lake, published studies and reports."""

    data_dir: str | None = Field(
        default=None, description="root of Maestro's data (default: MAESTRO_DATA_DIR)"
    )

    @property
    def root(self) -> Path:
        return Path(self.data_dir) if self.data_dir else load_settings().data_dir

    @property
    def lake(self) -> Lake:
        return Lake.under(self.root)

    @property
    def studies(self) -> StudyStore:
        return StudyStore(self.root)

    @property
    def reports(self) -> ReportStore:
        return ReportStore(self.root)


class OptunaResource(dg.ConfigurableResource):
    """Where Optuna keeps trials: journal files (one machine) or a database URL (PostgreSQL)."""

    storage_url: str | None = Field(
        default=None,
        description="directory of per-study journal files (ending in /), journal file path "
        "(*.journal/*.log) or SQLAlchemy URL "
        "(sqlite:///..., postgresql+psycopg://...); default: MAESTRO_OPTUNA_STORAGE",
    )

    @property
    def url(self) -> str:
        return self.storage_url or load_settings().study_storage


class QuestDBResource(dg.ConfigurableResource):
    """A QuestDB server: ILP over HTTP for writes, PostgreSQL wire for reads."""

    host: str | None = Field(default=None)
    http_port: int | None = Field(default=None, description="ILP/HTTP and REST port")
    pg_port: int | None = Field(default=None, description="PostgreSQL wire port")
    username: str | None = Field(default=None, description="ILP user (QuestDB Enterprise)")
    password: str | None = Field(default=None, description="ILP password")
    pg_user: str | None = Field(default=None, description="PG-wire user")
    pg_password: str | None = Field(default=None, description="PG-wire password")

    def config(self) -> QuestDBConfig:
        settings = load_settings()
        return QuestDBConfig(
            host=_pick(self.host, settings.questdb_host),
            http_port=_pick(self.http_port, settings.questdb_http_port),
            pg_port=_pick(self.pg_port, settings.questdb_pg_port),
            username=self.username or settings.questdb_user,
            password=self.password or settings.questdb_password,
            pg_user=_pick(self.pg_user, settings.questdb_pg_user),
            pg_password=_pick(self.pg_password, settings.questdb_pg_password),
        )


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse: embedded DuckDB (bars and study tables) or QuestDB (bars)."""

    kind: str | None = Field(default=None, description="'duckdb' or 'questdb'")
    duckdb_path: str | None = Field(default=None, description="DuckDB file")
    questdb: QuestDBResource

    @property
    def resolved_kind(self) -> str:
        return _pick(self.kind, load_settings().warehouse)

    @contextmanager
    def duckdb_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the DuckDB file (dagster-duckdb's resource opens it)."""
        from dagster_duckdb import DuckDBResource

        path = self.duckdb_path or str(load_settings().warehouse_path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with DuckDBResource(database=path).get_connection() as conn:
            yield conn

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        """The ``ohlcv`` table's store."""
        kind = self.resolved_kind
        if kind == "duckdb":
            with self.duckdb_connection() as conn:
                yield DuckDBWarehouse(conn)
        elif kind == "questdb":
            from maestro_pipeline.storage.questdb import QuestDBWarehouse

            with QuestDBWarehouse(self.questdb.config()) as store:
                yield store
        else:
            raise ValueError(f"unknown warehouse {kind!r}: use 'duckdb' or 'questdb'")


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resource set: from ``settings`` when given, else resolved from the environment at
    run time (what the code location uses)."""
    if settings is None:
        return {
            "market_data": MarketDataResource(),
            "lake": LakeResource(),
            "warehouse": WarehouseResource(questdb=QuestDBResource()),
            "optuna": OptunaResource(),
        }
    questdb = QuestDBResource(
        host=settings.questdb_host,
        http_port=settings.questdb_http_port,
        pg_port=settings.questdb_pg_port,
        username=settings.questdb_user,
        password=settings.questdb_password,
        pg_user=settings.questdb_pg_user,
        pg_password=settings.questdb_pg_password,
    )
    return {
        "market_data": MarketDataResource(
            source=settings.source,
            exchange=settings.exchange,
            exchange_url=settings.exchange_url,
            base_timeframe=settings.base_timeframe,
            timeframes=list(settings.all_timeframes),
            max_gap_ratio=settings.max_gap_ratio,
        ),
        "lake": LakeResource(data_dir=str(settings.data_dir)),
        "warehouse": WarehouseResource(
            kind=settings.warehouse,
            duckdb_path=str(settings.warehouse_path),
            questdb=questdb,
        ),
        "optuna": OptunaResource(storage_url=settings.study_storage),
    }
