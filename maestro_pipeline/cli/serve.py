"""`maestro serve`: the Maestro API (and the built chart UI) with uvicorn."""

from __future__ import annotations

import ipaddress
import os

import typer

from maestro_pipeline.cli import app


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds to this machine only (names other than localhost count as not)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """One worker per two usable cores, at least one, at most MAX_DEFAULT_WORKERS.

    The API shares its machine with Dagster, the browser and whatever else runs: on 2 cores
    with 50 clients on the same machine, one worker answers with a lower p99 than two
    (benchmarks/bench_api.py), and one cached answer takes ~0.1 ms, so one worker already
    serves thousands of chart requests a second. Each worker has its own response cache.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores // 2, MAX_DEFAULT_WORKERS))


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", help="interface to bind (loopback by default)"),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
    workers: int | None = typer.Option(
        None,
        min=1,
        help="uvicorn worker processes (default: one per two cores, at most "
        f"{MAX_DEFAULT_WORKERS})",
        show_default=False,
    ),
    reload: bool = typer.Option(False, help="restart on code changes (development)"),
    log_level: str = typer.Option("info", help="uvicorn's log level"),
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        help="log a line per request (off by default: it costs about a fifth of a cached "
        "bars answer)",
    ),
    allow_anonymous_writes: bool = typer.Option(
        False,
        "--allow-anonymous-writes",
        help="serve a non-loopback address without MAESTRO_API_TOKEN: anyone who reaches it "
        "can launch studies",
    ),
) -> None:
    """Serve the API at http://HOST:PORT/api/v2 (docs at /docs, chart UI at / when built).

    On an address other machines can reach, endpoints that start work (POST
    /api/v2/optimization) need a bearer token: set MAESTRO_API_TOKEN.
    """
    from api.config import load_api_config

    if not is_loopback(host) and load_api_config().api_token is None:
        if not allow_anonymous_writes:
            typer.echo(
                f"refusing to serve on {host} without MAESTRO_API_TOKEN: anyone who reaches it "
                "could launch studies (POST /api/v2/optimization). Set MAESTRO_API_TOKEN, bind "
                "to 127.0.0.1, or pass --allow-anonymous-writes.",
                err=True,
            )
            raise typer.Exit(code=2)
        typer.echo(f"warning: serving on {host} with anonymous writes allowed", err=True)

    import uvicorn

    workers = 1 if reload else workers or default_workers()
    typer.echo(
        f"Maestro API: http://{host}:{port}/api/v2  (docs: http://{host}:{port}/docs), "
        f"{workers} worker{'s' if workers > 1 else ''}"
    )
    uvicorn.run(
        "api.main:app",
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_level=log_level,
        access_log=access_log,
    )
