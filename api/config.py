"""API deployment settings from ``MAESTRO_*`` environment variables (data settings live in
``maestro_pipeline.settings``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
FRONTEND_DIST = Path(__file__).resolve().parents[1] / "frontend" / "dist"


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class ApiConfig:
    """How the API is reached and what it talks to."""

    cors_origins: tuple[str, ...] = ()
    dagster_url: str = DEFAULT_DAGSTER_URL
    dagster_location: str = "maestro"
    dagster_repository: str = "__repository__"
    dagster_timeout_seconds: int = 10
    frontend_dist: Path = field(default_factory=lambda: FRONTEND_DIST)
    progress_poll_seconds: float = 0.5
    progress_max_seconds: float = 3600.0
    # Bearer token that endpoints starting work require (None: open, for loopback use).
    api_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.progress_poll_seconds <= 0 or self.progress_max_seconds <= 0:
            raise ValueError("progress poll and time limit must be positive")


def load_api_config(env: dict[str, str] | None = None) -> ApiConfig:
    """API settings from the environment; unset variables keep local defaults."""
    env = dict(os.environ if env is None else env)
    dist = env.get("MAESTRO_FRONTEND_DIST")
    return ApiConfig(
        cors_origins=_split(env.get("MAESTRO_CORS_ORIGINS", "")),
        dagster_url=env.get("MAESTRO_DAGSTER_URL", DEFAULT_DAGSTER_URL).rstrip("/"),
        dagster_location=env.get("MAESTRO_DAGSTER_LOCATION", "maestro"),
        frontend_dist=Path(dist).resolve() if dist else FRONTEND_DIST,
        progress_max_seconds=float(env.get("MAESTRO_PROGRESS_MAX_SECONDS", "3600")),
        api_token=env.get("MAESTRO_API_TOKEN", "").strip() or None,
    )
