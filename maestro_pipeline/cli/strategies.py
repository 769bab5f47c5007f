"""`maestro strategies`: the strategy catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from maestro_pipeline.cli import app

if TYPE_CHECKING:
    from maestro_pipeline.engine.strategy import ParamSpec


def _format_space(spec: ParamSpec) -> str:
    from maestro_pipeline.engine.strategy import CategoricalParam, FloatParam, IntParam

    if isinstance(spec, CategoricalParam):
        return "{" + ", ".join(map(str, spec.choices)) + "}"
    assert isinstance(spec, IntParam | FloatParam)
    grid = " log" if spec.log else (f" step {spec.step}" if spec.step else "")
    return f"{spec.kind} [{spec.low}, {spec.high}]{grid}"


@app.command("strategies")
def strategies_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List the strategies: name, rule, default parameters and parameter space."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    from maestro_pipeline.engine.registry import all_strategies

    catalog = all_strategies()
    if as_json:
        typer.echo(orjson.dumps([s.describe() for s in catalog]).decode())
        return
    table = Table(title=f"{len(catalog)} strategies", show_lines=True)
    for column in ("name", "description", "defaults", "space"):
        table.add_column(column, overflow="fold")
    for strategy in catalog:
        defaults = "\n".join(f"{k}={v}" for k, v in strategy.defaults.items())
        space = "\n".join(f"{k}: {_format_space(v)}" for k, v in strategy.space.items())
        for constraint in strategy.constraints:
            space += f"\n{constraint.smaller} < {constraint.larger}"
        table.add_row(strategy.name, strategy.description, defaults, space)
    Console(width=160).print(table)
