"""`maestro backtest`: one strategy, one parameter set, on a Parquet file or the lake."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from maestro_pipeline.cli import app
from maestro_pipeline.engine.backtest.settings import BacktestSettings, setting_help
from maestro_pipeline.engine.engines import DEFAULT_ENGINE, engines_help

# The options' defaults and help are the engine's settings' own.
_DEFAULT = BacktestSettings()


def _help(name: str) -> str:
    text = setting_help(name)
    return text[0].upper() + text[1:] + "."


if TYPE_CHECKING:
    import pandas as pd

_SETTING_OPTIONS = {
    "fees": "--fees",
    "slippage": "--slippage",
    "direction": "--direction",
    "size_fraction": "--size",
    "init_cash": "--init-cash",
    "stop_loss": "--stop-loss",
    "take_profit": "--take-profit",
    "trailing_stop": "--trailing-stop",
}
_PERCENT_METRICS = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}


def _parse_params(text: str | None) -> dict[str, Any]:
    import orjson

    if not text:
        return {}
    try:
        params = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint="--params") from None
    if not isinstance(params, dict):
        raise typer.BadParameter(
            'must be a JSON object such as {"fast": 10}', param_hint="--params"
        )
    return params


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")


@app.command("backtest")
def backtest_command(
    strategy_name: str = typer.Option(
        ..., "--strategy", help="Strategy name (see `maestro strategies`)."
    ),
    data: Path | None = typer.Option(None, "--data", help="Parquet file of bars."),
    symbol: str | None = typer.Option(None, "--symbol", help="Symbol in the lake, e.g. BTC/USDT."),
    timeframe: str = typer.Option("1h", "--timeframe", help="Bar length: 30m, 1h, 4h, 1d..."),
    params_json: str | None = typer.Option(None, "--params", help="JSON, e.g. '{\"fast\": 10}'."),
    fees: float = typer.Option(_DEFAULT.fees, "--fees", help=_help("fees")),
    slippage: float = typer.Option(_DEFAULT.slippage, "--slippage", help=_help("slippage")),
    direction: str = typer.Option(_DEFAULT.direction, "--direction", help=_help("direction")),
    size: float = typer.Option(_DEFAULT.size_fraction, "--size", help=_help("size_fraction")),
    init_cash: float = typer.Option(_DEFAULT.init_cash, "--init-cash", help=_help("init_cash")),
    stop_loss: float | None = typer.Option(None, "--stop-loss", help=_help("stop_loss")),
    take_profit: float | None = typer.Option(None, "--take-profit", help=_help("take_profit")),
    trailing_stop: bool = typer.Option(False, "--trailing-stop", help=_help("trailing_stop")),
    engine_version: str = typer.Option(
        DEFAULT_ENGINE,
        "--engine-version",
        help=engines_help(),
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    trades_out: Path | None = typer.Option(
        None, "--trades-out", help="Write trades (.csv/.parquet)."
    ),
    equity_out: Path | None = typer.Option(
        None, "--equity-out", help="Write equity (.csv/.parquet)."
    ),
) -> None:
    """Backtest a strategy: signals at a bar's close fill at the next bar's open."""
    # Imported here, once the arguments parse: `maestro --help` loads none of this.
    import orjson
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from maestro_pipeline.catalog import get_strategy
    from maestro_pipeline.cli.inputs import load_bars
    from maestro_pipeline.engine.backtest import BacktestSettings, SettingsError
    from maestro_pipeline.engine.engines import (
        UnknownEngine,
        UnsupportedSetting,
        backtest,
        check_settings,
        checked_engine,
    )
    from maestro_pipeline.engine.metrics import finite_or_none
    from maestro_pipeline.engine.strategy import ParameterError, StrategyError

    try:
        strategy = get_strategy(strategy_name)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--strategy") from None
    params = _parse_params(params_json)
    try:
        engine = checked_engine(engine_version)
    except UnknownEngine as exc:
        raise typer.BadParameter(str(exc), param_hint="--engine-version") from None
    try:
        settings = BacktestSettings(
            fees=fees,
            slippage=slippage,
            direction=direction,  # type: ignore[arg-type]
            size_fraction=size,
            init_cash=init_cash,
            stop_loss=stop_loss,
            take_profit=take_profit,
            trailing_stop=trailing_stop,
        )
        checked = strategy.validate(params)
        check_settings(engine, settings)
    except UnsupportedSetting as exc:
        hint = f"{_SETTING_OPTIONS[exc.setting]} with --engine-version {engine_version}"
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    except SettingsError as exc:
        raise typer.BadParameter(str(exc), param_hint=_SETTING_OPTIONS[exc.setting]) from None
    except ParameterError as exc:
        raise typer.BadParameter(str(exc), param_hint="--params") from None
    bars = load_bars(data, symbol, timeframe)
    if bars.height < 2:
        raise typer.BadParameter("need at least two bars to backtest", param_hint="--data")
    try:
        result = backtest(bars, strategy, checked, settings, engine)
    except StrategyError as exc:
        Console(stderr=True).print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from None

    if trades_out is not None:
        _write_frame(result.trades, trades_out)
    if equity_out is not None:
        equity = pd.DataFrame(
            {
                "timestamp": result.equity.index,
                "equity": result.equity.to_numpy(),
                "returns": result.returns.to_numpy(),
            }
        )
        _write_frame(equity, equity_out)

    first, last = result.equity.index[0], result.equity.index[-1]
    if as_json:
        payload = {
            "strategy": strategy.name,
            "params": result.params,
            "settings": asdict(settings),
            "engine_version": engine_version,
            "timeframe": timeframe,
            "bars": bars.height,
            "start": first.isoformat(),
            "end": last.isoformat(),
            **{k: finite_or_none(v) for k, v in result.metrics.items()},
            "trade_count": int(result.metrics["trade_count"]),
        }
        typer.echo(orjson.dumps(payload).decode())
        return
    params_text = ", ".join(f"{k}={v}" for k, v in result.params.items())
    table = Table(
        title=f"{strategy.name} ({params_text}) on {bars.height:,} bars, {first} .. {last}, "
        f"engine {engine_version}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.items():
        if name == "trade_count":
            text = f"{value:,.0f}"
        elif name in _PERCENT_METRICS:
            text = f"{value:.2%}"
        else:
            text = f"{value:.3f}"
        table.add_row(name, text)
    Console().print(table)
