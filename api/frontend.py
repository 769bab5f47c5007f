"""The built chart UI (``frontend/dist``) at ``/``, with index.html for client-side routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

API_PREFIX = "api/"


def mount_frontend(app: FastAPI, dist: Path) -> bool:
    """Serve ``dist`` at ``/`` when it holds a built app; False (and nothing mounted) otherwise."""
    root = dist.resolve()
    index = root / "index.html"
    if not index.is_file():
        return False

    @app.get("/{path:path}", include_in_schema=False)
    def frontend(path: str) -> FileResponse:
        if path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
            raise HTTPException(status_code=404, detail=f"no API route /{path}")
        candidate = (root / path).resolve()
        # Only files inside dist; anything else (client-side routes) gets the app's index.
        if path and candidate.is_relative_to(root) and candidate.is_file():
            return FileResponse(candidate)
        return FileResponse(index, media_type="text/html")

    return True
