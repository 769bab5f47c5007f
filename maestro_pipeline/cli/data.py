"""`maestro lake`: what the lake holds."""

from __future__ import annotations

import typer

from maestro_pipeline.cli import app


@app.command("lake")
def lake_command() -> None:
    """List the series of clean bars in the lake (symbol, timeframe, months, rows)."""
    from rich.console import Console
    from rich.table import Table

    from maestro_pipeline.settings import load_settings

    settings = load_settings()
    lake = settings.lake
    table = Table(title=f"bars in {settings.lake.root} (exchange={settings.lake_exchange})")
    for column in ("symbol", "timeframe", "months", "rows", "first", "last"):
        table.add_column(column)
    for symbol in lake.symbols(settings.lake_exchange):
        for timeframe in lake.timeframes(settings.lake_exchange, symbol):
            bars = lake.read_bars(settings.lake_exchange, symbol, timeframe)
            months = len(lake.month_files("bars", settings.lake_exchange, symbol, timeframe))
            first, last = (str(bars["timestamp"][i]) if bars.height else "-" for i in (0, -1))
            table.add_row(symbol, timeframe, str(months), f"{bars.height:,}", first, last)
    if not table.row_count:
        typer.echo("the lake is empty: materialize the market_data assets first")
        raise typer.Exit(1)
    Console().print(table)
