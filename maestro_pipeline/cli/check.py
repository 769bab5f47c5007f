"""`maestro check`: bias checks of a strategy (lookahead, warm-up stability, hygiene)."""

from __future__ import annotations

from pathlib import Path

import typer

from maestro_pipeline.cli import app

DEFAULT_SYMBOL = "BTC/USD"


@app.command("check")
def check_command(
    strategy_name: str = typer.Argument(
        ..., metavar="STRATEGY", help="Strategy name (see `maestro strategies`)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Parquet file of bars (default: the bundled BTC/USD sample)."
    ),
    symbol: str | None = typer.Option(None, "--symbol", help="Symbol in the lake instead."),
    timeframe: str = typer.Option("1h", "--timeframe", help="Bar length: 30m, 1h, 4h, 1d..."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check a strategy for lookahead, warm-up instability and code hygiene; exit 1 on failure.

    lookahead: signals on the history cut at many bars must equal the full-history signals up
    to the cut. warm-up: signals from a history that starts later must agree with the
    full-history ones after the strategy's stated warm-up (or after a quarter of it when it
    states none). hygiene: one boolean per bar and signal, no NaN, the same signals twice,
    every parameter read and able to change a signal. Each runs on the defaults and two
    random parameter sets and names the first offending bar.
    """
    import orjson
    from rich.console import Console
    from rich.table import Table

    from maestro_pipeline.catalog import load_catalog
    from maestro_pipeline.cli.inputs import load_bars
    from maestro_pipeline.engine.bias import check_strategy
    from maestro_pipeline.engine.strategy import OHLCV
    from maestro_pipeline.sources.sample import SAMPLE_FILES

    catalog = load_catalog()
    entry = catalog.entry(strategy_name)
    if entry is None:
        raise typer.BadParameter(
            f"unknown strategy {strategy_name!r}; known strategies: {', '.join(catalog.names())}",
            param_hint="STRATEGY",
        )
    if entry.strategy is None:
        if as_json:
            payload = {"strategy": entry.name, "source": entry.source, "passed": False,
                       "error": entry.error}  # fmt: skip
            typer.echo(orjson.dumps(payload).decode())
        else:
            Console(stderr=True).print(f"[red]FAIL[/red] {entry.error}")
        raise typer.Exit(1)
    if data is None and symbol is None:
        data = SAMPLE_FILES[DEFAULT_SYMBOL]
        label = f"the bundled {DEFAULT_SYMBOL} sample"
    else:
        label = str(data) if data is not None else str(symbol)
    bars = OHLCV.from_bars(load_bars(data, symbol, timeframe))
    try:
        report = check_strategy(bars, entry.strategy)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None

    if as_json:
        payload = {"source": entry.source, "data": label, "timeframe": timeframe,
                   **report.as_dict()}  # fmt: skip
        typer.echo(orjson.dumps(payload).decode())
    else:
        console = Console(width=120)
        console.print(
            f"{report.strategy} ({entry.source}, version {report.version}) on {report.n_bars:,} "
            f"{timeframe} bars of {label}, {report.first_bar} .. {report.last_bar}; "
            f"{len(report.param_sets)} parameter sets"
        )
        table = Table(show_header=False, show_lines=True)
        table.add_column("result", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for check in report.checks:
            verdict = "[green]PASS[/green]" if check.passed else "[red]FAIL[/red]"
            table.add_row(verdict, check.name, check.summary)
        console.print(table)
    if not report.passed:
        raise typer.Exit(1)
