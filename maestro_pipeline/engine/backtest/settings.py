"""Simulation settings: costs, direction, sizing and stops, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

Direction = Literal["long", "short", "both"]


class SettingsError(ValueError):
    """A backtest setting (fees, slippage, direction, stops...) is invalid."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"setting '{setting}' {message}")


class UnsupportedSetting(SettingsError):
    """A valid setting that one engine cannot simulate the way the others do."""


@dataclass(frozen=True)
class BacktestSettings:
    """Costs, direction, sizing and stops of a simulation."""

    # ``help`` is the one description every surface shows (the API's request model reads it).
    fees: float = field(default=0.001, metadata={"help": "fee per fill, fraction of traded value"})
    slippage: float = field(
        default=0.0, metadata={"help": "fraction the fill price moves against you"}
    )
    direction: Direction = field(default="long", metadata={"help": "long, short or both"})
    size_fraction: float = field(
        default=1.0, metadata={"help": "fraction of cash per entry, (0, 1]"}
    )
    init_cash: float = field(default=10_000.0, metadata={"help": "starting cash"})
    stop_loss: float | None = field(
        default=None, metadata={"help": "stop distance, fraction of the entry price"}
    )
    take_profit: float | None = field(
        default=None, metadata={"help": "target distance, fraction of the entry price"}
    )
    trailing_stop: bool = field(
        default=False, metadata={"help": "trail the stop-loss behind the best price"}
    )

    def __post_init__(self) -> None:
        def fraction(name: str, value: float | None, low: float, high: float) -> None:
            if value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(name, f"must be a number, got {value!r}")
            if not (math.isfinite(value) and low <= value < high):
                raise SettingsError(name, f"must be within [{low}, {high}), got {value}")

        fraction("fees", self.fees, 0.0, 0.5)
        fraction("slippage", self.slippage, 0.0, 0.5)
        fraction("size_fraction", self.size_fraction, 1e-6, 1.0 + 1e-12)
        fraction("init_cash", self.init_cash, 1e-9, math.inf)
        fraction("stop_loss", self.stop_loss, 1e-6, 1.0)
        fraction("take_profit", self.take_profit, 1e-6, math.inf)
        if self.direction not in ("long", "short", "both"):
            raise SettingsError(
                "direction", f"must be one of long, short, both; got {self.direction!r}"
            )
        if self.direction == "both" and self.size_fraction < 1.0:
            # vectorbt cannot reverse a position sized as a percentage of cash.
            raise SettingsError(
                "size_fraction", "must be 1 when direction is 'both' (reversals are all-in)"
            )
        if self.trailing_stop and self.stop_loss is None:
            raise SettingsError("trailing_stop", "needs stop_loss (the trailing distance)")


def setting_help(name: str) -> str:
    """The description of the setting ``name`` (every surface shows this one)."""
    return next(f.metadata["help"] for f in fields(BacktestSettings) if f.name == name)
