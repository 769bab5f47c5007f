"""Deployment settings read from ``MAESTRO_*`` environment variables, with local defaults.

Dagster resources take their defaults from here, so the Dagster UI, the CLI and the API
agree on where data lives without repeating configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from maestro_pipeline.engine.timeframes import DAY_MS, timeframe_ms
from maestro_pipeline.engine.walk_forward.config import (
    ConfigError,
    SettingInfo,
    WalkForwardConfig,
    setting_infos,
)
from maestro_pipeline.storage.lake import Lake

SAMPLE_SYMBOLS = ("BTC/USD", "ETH/USD")
SAMPLE_START = date(2017, 10, 1)
SAMPLE_END = date(2019, 10, 1)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Where data comes from and where it goes."""

    source: str = "sample"
    exchange: str = "binance"
    exchange_url: str | None = None
    symbols: tuple[str, ...] = SAMPLE_SYMBOLS
    base_timeframe: str = "30m"
    timeframes: tuple[str, ...] = ("30m", "1h", "4h", "1d")
    start: date = SAMPLE_START
    end: date | None = SAMPLE_END
    data_dir: Path = field(default_factory=lambda: Path("data").resolve())
    warehouse: str = "duckdb"
    duckdb_path: Path | None = None
    max_gap_ratio: float = 0.05
    study_timeframes: tuple[str, ...] = ("1h",)
    # Defaults of every study setting (WalkForwardConfig's fields), from MAESTRO_STUDY_*.
    study_defaults: Mapping[str, Any] = field(default_factory=dict)
    optuna_storage: str | None = None
    questdb_host: str = "127.0.0.1"
    questdb_http_port: int = 9000
    questdb_pg_port: int = 8812
    questdb_user: str | None = None
    questdb_password: str | None = None
    questdb_pg_user: str = "admin"
    questdb_pg_password: str = "quest"
    executor: str = "multiprocess"
    celery_broker: str = "redis://127.0.0.1:6379/0"
    celery_backend: str = "redis://127.0.0.1:6379/1"

    def __post_init__(self) -> None:
        if self.executor not in ("multiprocess", "celery"):
            raise ValueError(
                f"MAESTRO_EXECUTOR must be 'multiprocess' or 'celery', not {self.executor!r}"
            )
        if self.warehouse not in ("duckdb", "questdb"):
            raise ValueError(
                f"MAESTRO_WAREHOUSE must be 'duckdb' or 'questdb', not {self.warehouse!r}"
            )
        if self.source not in ("sample", "ccxt"):
            raise ValueError(f"MAESTRO_SOURCE must be 'sample' or 'ccxt', not {self.source!r}")
        if not self.symbols:
            raise ValueError("MAESTRO_SYMBOLS names no symbol")
        base = timeframe_ms(self.base_timeframe)
        for tf in self.timeframes:
            step = timeframe_ms(tf)
            # Each month is resampled on its own, so every bar must fit the daily grid.
            if step < base or step % base or (DAY_MS % step if step <= DAY_MS else True):
                raise ValueError(
                    f"MAESTRO_TIMEFRAMES entry {tf!r} must be a multiple of the base timeframe "
                    f"{self.base_timeframe!r} that divides one day"
                )
        unknown = [tf for tf in self.study_timeframes if tf not in self.all_timeframes]
        if unknown:
            raise ValueError(
                f"MAESTRO_STUDY_TIMEFRAMES {unknown} are not among the bar timeframes "
                f"{list(self.all_timeframes)}"
            )
        try:
            self.study_config()
        except ConfigError as exc:
            variable = next(i.env_var for i in setting_infos() if i.name == exc.field)
            raise ValueError(f"{variable}: {exc}") from None
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"MAESTRO_END {self.end} must be after MAESTRO_START {self.start}")

    @property
    def lake_exchange(self) -> str:
        """The ``exchange=`` folder of the lake: the sample keeps apart from live downloads."""
        return "sample" if self.source == "sample" else self.exchange

    @property
    def lake(self) -> Lake:
        return Lake.under(self.data_dir)

    @property
    def warehouse_path(self) -> Path:
        return self.duckdb_path or self.data_dir / "warehouse.duckdb"

    @property
    def study_storage(self) -> str:
        """Optuna storage: a SQLAlchemy URL, a journal file, or (the default, under data_dir) a
        directory with one journal file per study."""
        return self.optuna_storage or f"{self.data_dir / 'optuna'}/"

    def study_config(self, **overrides: Any) -> WalkForwardConfig:
        """A study's settings: the spec's defaults, these settings' defaults, ``overrides``."""
        return WalkForwardConfig(**{**self.study_defaults, **overrides})

    @property
    def all_timeframes(self) -> tuple[str, ...]:
        ordered = [self.base_timeframe, *self.timeframes]
        return tuple(sorted(set(ordered), key=timeframe_ms))


def study_defaults_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Study setting defaults given by ``MAESTRO_STUDY_*`` variables (the others are absent)."""
    found: dict[str, Any] = {}
    for info in setting_infos():
        text = env.get(info.env_var, "").strip()
        if text:
            found[info.name] = _parse_setting(info, text)
    return found


def _parse_setting(info: SettingInfo, text: str) -> Any:
    variable = info.env_var
    if info.type is bool:
        if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"{variable} must be true or false, not {text!r}")
        return text.lower() in ("1", "true", "yes")
    try:
        return info.type(text)
    except ValueError:
        raise ValueError(f"{variable} must be {info.type.__name__}, not {text!r}") from None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from the environment; unset variables keep the bundled-sample defaults."""
    env = dict(os.environ if env is None else env)
    source = env.get("MAESTRO_SOURCE", "sample")
    default_symbols = ",".join(SAMPLE_SYMBOLS) if source == "sample" else "BTC/USDT,ETH/USDT"
    default_end = SAMPLE_END.isoformat() if source == "sample" else ""
    end = env.get("MAESTRO_END", default_end)
    duckdb_path = env.get("MAESTRO_DUCKDB_PATH")
    return Settings(
        source=source,
        exchange=env.get("MAESTRO_EXCHANGE", "binance"),
        exchange_url=env.get("MAESTRO_EXCHANGE_URL") or None,
        symbols=_split(env.get("MAESTRO_SYMBOLS", default_symbols)),
        base_timeframe=env.get("MAESTRO_BASE_TIMEFRAME", "30m"),
        timeframes=_split(env.get("MAESTRO_TIMEFRAMES", "30m,1h,4h,1d")),
        start=date.fromisoformat(env.get("MAESTRO_START", SAMPLE_START.isoformat())),
        end=date.fromisoformat(end) if end else None,
        data_dir=Path(env.get("MAESTRO_DATA_DIR", "data")).resolve(),
        warehouse=env.get("MAESTRO_WAREHOUSE", "duckdb"),
        duckdb_path=Path(duckdb_path).resolve() if duckdb_path else None,
        max_gap_ratio=float(env.get("MAESTRO_MAX_GAP_RATIO", "0.05")),
        study_timeframes=_split(env.get("MAESTRO_STUDY_TIMEFRAMES", "1h")),
        study_defaults=study_defaults_from_env(env),
        optuna_storage=env.get("MAESTRO_OPTUNA_STORAGE") or None,
        questdb_host=env.get("MAESTRO_QUESTDB_HOST", "127.0.0.1"),
        questdb_http_port=int(env.get("MAESTRO_QUESTDB_HTTP_PORT", "9000")),
        questdb_pg_port=int(env.get("MAESTRO_QUESTDB_PG_PORT", "8812")),
        questdb_user=env.get("MAESTRO_QUESTDB_USER") or None,
        questdb_password=env.get("MAESTRO_QUESTDB_PASSWORD") or None,
        questdb_pg_user=env.get("MAESTRO_QUESTDB_PG_USER", Settings.questdb_pg_user),
        questdb_pg_password=env.get("MAESTRO_QUESTDB_PG_PASSWORD", Settings.questdb_pg_password),
        executor=env.get("MAESTRO_EXECUTOR", "multiprocess"),
        celery_broker=env.get("MAESTRO_CELERY_BROKER", Settings.celery_broker),
        celery_backend=env.get("MAESTRO_CELERY_BACKEND", Settings.celery_backend),
    )
