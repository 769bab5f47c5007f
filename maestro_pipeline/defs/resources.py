"""Resources: where bars come from, the Parquet lake, the DuckDB warehouse.

Defaults come from ``MAESTRO_*`` environment variables (see ``maestro_pipeline.settings``); each
field can also be set per run in the Dagster launchpad.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import optuna
from dagster_duckdb import DuckDBResource
from pydantic import Field

from maestro_pipeline.settings import Settings, load_settings
from maestro_pipeline.sources import BarSource
from maestro_pipeline.sources.exchange import CcxtSource
from maestro_pipeline.sources.sample import SampleSource
from maestro_pipeline.storage.lake import Lake
from maestro_pipeline.storage.optuna_storage import is_shared_storage, optuna_storage
from maestro_pipeline.storage.questdb import QuestDBConfig, QuestDBWarehouse
from maestro_pipeline.storage.studies import StudyStore
from maestro_pipeline.storage.warehouse import DuckDBWarehouse, Warehouse


class MarketDataResource(dg.ConfigurableResource):
    """The bar source and how its bars are cleaned and resampled."""

    source: str = Field(description="'sample' (bundled real data, offline) or 'ccxt'")
    exchange: str = Field(default="binance", description="ccxt exchange id")
    exchange_url: str | None = Field(
        default=None, description="override of the exchange's public REST API base URL"
    )
    base_timeframe: str = Field(default="30m", description="timeframe downloaded from the source")
    timeframes: list[str] = Field(description="timeframes written to the lake")
    page_limit: int = Field(default=1000, description="bars per exchange request")
    retry_base_seconds: float = Field(default=1.0, description="first backoff delay on errors")
    max_gap_ratio: float = Field(default=0.05, description="gap-ratio check threshold")

    @property
    def lake_exchange(self) -> str:
        return "sample" if self.source == "sample" else self.exchange

    def client(self) -> BarSource:
        if self.source == "sample":
            return SampleSource()
        if self.source == "ccxt":
            return CcxtSource(
                self.exchange,
                base_url=self.exchange_url,
                page_limit=self.page_limit,
                retry_base_seconds=self.retry_base_seconds,
            )
        raise ValueError(f"unknown source {self.source!r}: use 'sample' or 'ccxt'")


class LakeResource(dg.ConfigurableResource):
    """The Parquet lake under ``{data_dir}/lake``."""

    data_dir: str = Field(description="root of Maestro's data (lake, warehouse, studies)")

    @property
    def lake(self) -> Lake:
        return Lake.under(self.data_dir)

    @property
    def studies(self) -> StudyStore:
        return StudyStore(self.data_dir)


class OptunaResource(dg.ConfigurableResource):
    """Where Optuna keeps trials: a journal file (one machine) or a SQLAlchemy URL (PostgreSQL)."""

    storage_url: str = Field(
        description="journal file path (*.journal/*.log) or SQLAlchemy URL "
        "(sqlite:///..., postgresql+psycopg://...)"
    )

    def storage(self) -> optuna.storages.BaseStorage | str:
        return optuna_storage(self.storage_url)

    @property
    def shared(self) -> bool:
        """A database server: studies are shared, so `maestro worker` processes can join."""
        return is_shared_storage(self.storage_url)


class QuestDBResource(dg.ConfigurableResource):
    """A QuestDB server: ILP over HTTP for writes, PostgreSQL wire for reads."""

    host: str = Field(default="127.0.0.1")
    http_port: int = Field(default=9000, description="ILP/HTTP and REST port")
    pg_port: int = Field(default=8812, description="PostgreSQL wire port")
    username: str | None = Field(default=None, description="ILP user (QuestDB Enterprise)")
    password: str | None = Field(default=None, description="ILP password")
    pg_user: str = Field(default="admin")
    pg_password: str = Field(default="quest")

    def config(self) -> QuestDBConfig:
        return QuestDBConfig(
            host=self.host,
            http_port=self.http_port,
            pg_port=self.pg_port,
            username=self.username,
            password=self.password,
            pg_user=self.pg_user,
            pg_password=self.pg_password,
        )


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse the ``ohlcv`` table lands in: embedded DuckDB or a QuestDB server."""

    kind: str = Field(default="duckdb", description="'duckdb' or 'questdb'")
    duckdb: DuckDBResource
    questdb: QuestDBResource

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        if self.kind == "duckdb":
            with self.duckdb.get_connection() as conn:
                yield DuckDBWarehouse(conn)
        elif self.kind == "questdb":
            with QuestDBWarehouse(self.questdb.config()) as store:
                yield store
        else:
            raise ValueError(f"unknown warehouse {self.kind!r}: use 'duckdb' or 'questdb'")


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The resource set for a deployment, from settings (the environment by default)."""
    settings = settings or load_settings()
    duckdb = DuckDBResource(database=str(settings.warehouse_path))
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
        "duckdb": duckdb,
        "warehouse": WarehouseResource(kind=settings.warehouse, duckdb=duckdb, questdb=questdb),
        "optuna": OptunaResource(storage_url=settings.study_storage),
    }
