"""`maestro wait-for`: wait until servers answer (used by `make run` before it materializes)."""

from __future__ import annotations

import time

import typer

from maestro_pipeline.cli import app


@app.command("wait-for", hidden=True)
def wait_for_command(
    urls: list[str] = typer.Argument(..., help="URLs that must answer 200"),
    timeout: float = typer.Option(180.0, help="seconds to wait at most"),
) -> None:
    """Return once every URL answers HTTP 200; exit 1 after TIMEOUT seconds."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending:
        url = pending[0]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    pending.pop(0)
                    continue
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            typer.echo(f"{url} did not answer within {timeout:.0f} s", err=True)
            raise typer.Exit(1)
        time.sleep(0.3)
