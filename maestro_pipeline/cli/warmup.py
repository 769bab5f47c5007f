"""`maestro warm-up`: compile the engine's numba kernels once, after installing."""

from __future__ import annotations

import time

import typer

from maestro_pipeline.cli import app


@app.command("warm-up")
def warm_up_command() -> None:
    """Compile and cache every backtest kernel: the first real command is as fast as the tenth."""
    from maestro_pipeline.engine.warmup import warm_up

    started = time.perf_counter()
    seconds = warm_up()
    typer.echo(
        f"numba kernels of {len(seconds)} strategies ready in {time.perf_counter() - started:.1f} s"
    )
