"""The ``maestro`` command: research tools for quants at a terminal."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="maestro",
    help="Maestro: crypto market data, backtests and walk-forward studies.",
    no_args_is_help=True,
    add_completion=False,
)

# Each command module registers its commands on ``app`` when imported.
from maestro_pipeline.cli import backtest as _backtest  # noqa: E402,F401
from maestro_pipeline.cli import check as _check  # noqa: E402,F401
from maestro_pipeline.cli import data as _data  # noqa: E402,F401
from maestro_pipeline.cli import pipeline as _pipeline  # noqa: E402,F401
from maestro_pipeline.cli import serve as _serve  # noqa: E402,F401
from maestro_pipeline.cli import strategies as _strategies  # noqa: E402,F401
from maestro_pipeline.cli import wait as _wait  # noqa: E402,F401
from maestro_pipeline.cli import walk_forward as _walk_forward  # noqa: E402,F401
from maestro_pipeline.cli import warmup as _warmup  # noqa: E402,F401
from maestro_pipeline.cli import worker as _worker  # noqa: E402,F401
