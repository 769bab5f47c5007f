"""The one definition of a study's settings: names, types, defaults, bounds and descriptions.

``WalkForwardConfig`` is the study spec. Every surface that sets a study derives from its
fields: the Dagster run config (``defs.studies``), the CLI options (``cli.study_options``), the
API request model (``api.models``) and the settings defaults (``MAESTRO_STUDY_<FIELD>``, see
``settings``). Adding a field here adds it everywhere; a test checks the four agree.

Each field is declared with ``setting(default, description, ...)``: bounds (``low``/``high``,
``low_open`` for a strict lower bound) and ``choices`` live in the field's metadata, and one
generic check in ``__post_init__`` enforces them, so a bad value is refused the same way from
any surface (``ConfigError`` names the field).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from maestro_pipeline.engine.backtest.settings import BacktestSettings, Direction
from maestro_pipeline.engine.engines import (
    DEFAULT_ENGINE,
    ENGINE_VERSIONS,
    EngineVersion,
    engines_help,
)
from maestro_pipeline.engine.limits import MAX_SPLITS

Objective = Literal["sharpe_ratio", "sortino_ratio", "calmar_ratio", "total_return"]
PrunerKind = Literal["median", "hyperband", "none"]
Scheme = Literal["walk_forward", "cpcv"]
OBJECTIVES: tuple[str, ...] = get_args(Objective)
SCHEMES: tuple[str, ...] = get_args(Scheme)
PRUNERS: tuple[str, ...] = get_args(PrunerKind)
DIRECTIONS: tuple[str, ...] = get_args(Direction)


# Settings only the cpcv scheme reads (with the scheme itself).
CPCV_ONLY = ("scheme", "n_groups", "n_test_groups")


class ConfigError(ValueError):
    """A study setting is invalid; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"walk-forward setting '{field_name}' {message}")


@dataclass(frozen=True)
class SettingInfo:
    """What a surface needs to offer one study setting."""

    name: str
    type: type
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None

    @property
    def short_name(self) -> str:
        """The name surfaces show: n_splits -> splits (``--splits``, MAESTRO_STUDY_SPLITS)."""
        return self.name.removeprefix("n_")

    @property
    def env_var(self) -> str:
        """The deployment variable holding this setting's default: MAESTRO_STUDY_SPLITS."""
        return "MAESTRO_STUDY_" + self.short_name.upper()

    def bounds_text(self) -> str:
        """'>= 1', '> 0', 'in [0, 0.5)'... for help texts."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return ""


def setting(
    default: Any,
    description: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A spec field: its default plus what every surface shows and checks."""
    meta = {"description": description, "low": low, "high": high, "low_open": low_open,
            "high_open": high_open, "choices": choices}  # fmt: skip
    return dataclasses.field(default=default, metadata={"setting": meta})


@dataclass(frozen=True)
class WalkForwardConfig:
    """Everything that decides a walk-forward study's result (the bars and strategy aside)."""

    n_splits: int = setting(10, "walk-forward folds", low=1, high=50)
    n_trials: int = setting(100, "Optuna trials per fold (per split with cpcv)", low=1, high=5000)
    is_oos_ratio: float = setting(4.0, "in-sample bars per out-of-sample bar", low=0, low_open=True)
    anchored: bool = setting(False, "expanding (anchored) in-sample windows instead of rolling")
    purge_bars: int = setting(
        0,
        "bars left out between in-sample and out-of-sample (cpcv: before each test group)",
        low=0,
    )
    embargo_bars: int = setting(
        0,
        "extra safety bars added to the purge gap (cpcv: left out after each test group)",
        low=0,
    )
    objective: Objective = setting("sharpe_ratio", "metric maximized in-sample", choices=OBJECTIVES)
    min_trades: int = setting(3, "in-sample trades a trial needs to be feasible", low=0)
    seed: int = setting(42, "sampler seed (fold k uses seed + k)", low=0)
    batch_size: int = setting(25, "trials asked and backtested together", low=1, high=1000)
    pruning_steps: int = setting(
        4, "growing in-sample sub-windows a trial is scored on", low=1, high=20
    )
    pruner: PrunerKind = setting("median", "how trials are stopped early", choices=PRUNERS)
    fees: float = setting(
        0.001, "fee per fill, fraction of traded value", low=0, high=0.5, high_open=True
    )
    slippage: float = setting(
        0.0005, "fraction the fill price moves against the trade", low=0, high=0.5, high_open=True
    )
    direction: Direction = setting("long", "sides traded", choices=DIRECTIONS)
    scheme: Scheme = setting(
        "walk_forward",
        "how the bars are split: walk_forward folds, or cpcv (combinatorial purged "
        "cross-validation: every choice of test groups, paths recombined from them)",
        choices=SCHEMES,
    )
    n_groups: int = setting(6, "cpcv: contiguous groups the bars are cut into", low=2, high=24)
    n_test_groups: int = setting(
        2, "cpcv: groups tested in each split (below the number of groups)", low=1, high=23
    )
    engine_version: EngineVersion = setting(
        DEFAULT_ENGINE,
        f"backtest engine ({engines_help()})",
        choices=ENGINE_VERSIONS,
    )

    def __post_init__(self) -> None:
        for info in setting_infos():
            _check(info, getattr(self, info.name))
        if self.n_test_groups >= self.n_groups:
            raise ConfigError(
                "n_test_groups",
                f"must be below n_groups ({self.n_groups}), got {self.n_test_groups}",
            )
        splits = math.comb(self.n_groups, self.n_test_groups)
        if self.scheme == "cpcv" and splits > MAX_SPLITS:
            raise ConfigError(
                "n_groups",
                f"with n_test_groups={self.n_test_groups} makes {splits} cpcv splits (one "
                f"search each), more than {MAX_SPLITS}; use fewer groups",
            )

    @property
    def backtest(self) -> BacktestSettings:
        """The simulation settings every window of the study uses."""
        return BacktestSettings(fees=self.fees, slippage=self.slippage, direction=self.direction)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> WalkForwardConfig:
        """The inverse of ``as_dict``; unknown names are refused, naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ConfigError(unknown[0], f"is not a study setting (known: {', '.join(known)})")
        return cls(**fields)

    def fingerprint(self) -> str:
        """A short stable hash of every field that matters: equal configs, equal fingerprints.

        A walk-forward study does not read the cpcv settings, so they (and the scheme) are left
        out of its hash: walk-forward fingerprints, and so the names of stored fold studies,
        are those of the spec before it had a second scheme. Likewise the default engine
        (v2) is left out: only a study on another engine gets other fingerprints.
        """
        fields = self.as_dict()
        if self.scheme == "walk_forward":
            for name in CPCV_ONLY:
                fields.pop(name)
        if self.engine_version == DEFAULT_ENGINE:
            fields.pop("engine_version")
        payload = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(payload.encode(), digest_size=6).hexdigest()


_TYPES = {"int": int, "float": float, "bool": bool}


def setting_infos() -> tuple[SettingInfo, ...]:
    """Every study setting, in declaration order, with its type, default and bounds."""
    return _SETTING_INFOS


def _info(field: dataclasses.Field) -> SettingInfo:
    meta = field.metadata["setting"]
    kind = _TYPES.get(str(field.type), str)
    return SettingInfo(name=field.name, type=kind, default=field.default, **meta)


def _check(info: SettingInfo, value: Any) -> None:
    if info.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(info.name, f"must be true or false, got {value!r}")
        return
    if info.type is int:
        if isinstance(value, bool) or (not isinstance(value, int) and not _is_integer(value)):
            raise ConfigError(info.name, f"must be an integer, got {value!r}")
    elif info.type is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(info.name, f"must be a finite number, got {value!r}")
    elif info.choices is not None and value not in info.choices:
        raise ConfigError(info.name, f"must be one of {', '.join(info.choices)}; got {value!r}")
    if info.low is not None and (value <= info.low if info.low_open else value < info.low):
        raise ConfigError(info.name, f"must be {info.bounds_text()}, got {value}")
    if info.high is not None and (value >= info.high if info.high_open else value > info.high):
        raise ConfigError(info.name, f"must be {info.bounds_text()}, got {value}")


def _is_integer(value: Any) -> bool:
    # numpy integers are integers too (a config read back from a Parquet/JSON round trip).
    return hasattr(value, "__index__") and not isinstance(value, float)


_SETTING_INFOS = tuple(_info(f) for f in dataclasses.fields(WalkForwardConfig))
