"""`maestro strategies`: the strategy catalog, the user's strategies included."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from maestro_pipeline.cli import app

if TYPE_CHECKING:
    from maestro_pipeline.engine.authoring import ParamSpec


def _format_space(spec: ParamSpec) -> str:
    from maestro_pipeline.engine.authoring import CategoricalParam

    if isinstance(spec, CategoricalParam):
        return "{" + ", ".join(map(str, spec.choices)) + "}"
    grid = " log" if spec.log else (f" step {spec.step}" if spec.step else "")
    return f"{spec.kind} [{spec.low}, {spec.high}]{grid}"


@app.command("strategies")
def strategies_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List the strategies: name, source, rule, default parameters and parameter space.

    Besides the built-ins, strategies come from the .py files in the directories of
    MAESTRO_STRATEGY_PATH (':'-separated) and from installed packages (entry-point group
    maestro.strategies). A strategy that cannot be loaded is listed with its error.
    """
    # Neither numpy nor the indicators: the catalog lists declarations only.
    import orjson

    from maestro_pipeline.catalog import load_catalog

    catalog = load_catalog()
    if as_json:
        typer.echo(orjson.dumps([entry.describe() for entry in catalog.entries]).decode())
        for problem in catalog.problems:
            typer.echo(f"warning: {problem}", err=True)
        return

    from rich.console import Console
    from rich.table import Table

    loaded = catalog.names()
    broken = catalog.broken()
    title = f"{len(loaded)} strategies" + (f", {len(broken)} broken" if broken else "")
    table = Table(title=title, show_lines=True)
    for column in ("name", "source", "description", "defaults", "space"):
        table.add_column(column, overflow="fold")
    for entry in catalog.entries:
        strategy = entry.strategy
        source = entry.source if entry.kind != "builtin" else "builtin"
        if strategy is None:
            table.add_row(f"[red]{entry.name}[/red]", source, f"[red]{entry.error}[/red]", "", "")
            continue
        source += f"\nversion {strategy.code_version}"
        defaults = "\n".join(f"{k}={v}" for k, v in strategy.defaults.items())
        space = "\n".join(f"{k}: {_format_space(v)}" for k, v in strategy.space.items())
        for constraint in strategy.constraints:
            space += f"\n{constraint}"
        warmup = strategy.warmup_bars(strategy.defaults)
        if warmup is not None:
            defaults += f"\nwarm-up {warmup} bars"
        table.add_row(strategy.name, source, strategy.description, defaults, space)
    Console(width=160).print(table)
    for problem in catalog.problems:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {problem}")
