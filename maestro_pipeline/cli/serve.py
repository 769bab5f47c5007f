"""`maestro serve`: the Maestro API (and the built chart UI) with uvicorn."""

from __future__ import annotations

import typer

from maestro_pipeline.cli import app


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", help="interface to bind (loopback by default)"),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes"),
    reload: bool = typer.Option(False, help="restart on code changes (development)"),
) -> None:
    """Serve the API at http://HOST:PORT/api/v2 (docs at /docs, chart UI at / when built)."""
    import uvicorn

    typer.echo(f"Maestro API: http://{host}:{port}/api/v2  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "api.main:app",
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_level="info",
    )
