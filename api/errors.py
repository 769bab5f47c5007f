"""Errors that name the request field at fault, in FastAPI's own 422 shape::

{"detail": [{"loc": ["query", "timeframe"], "msg": "...", "type": "value_error"}]}
"""

from __future__ import annotations

from fastapi import HTTPException


class FieldError(HTTPException):
    """An HTTP error about one request field (``location`` is path, query or body)."""

    def __init__(self, status_code: int, location: str, name: str, message: str) -> None:
        kind = "not_found" if status_code == 404 else "value_error"
        super().__init__(
            status_code=status_code,
            detail=[{"loc": [location, name], "msg": message, "type": kind}],
        )


class NotMaterialized(HTTPException):
    """404: the pipeline has not produced this yet; ``hint`` says what to run."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(status_code=404, detail=f"{what} is not materialized yet: {hint}")


class StoreBusy(HTTPException):
    """503: files vanished between two reads (a newer version was being published)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            status_code=503,
            detail=f"{what} was replaced while being read; retry the request",
            headers={"Retry-After": "1"},
        )


class ArtifactMissing(HTTPException):
    """404: the study is published, but without this artifact; ``why`` says why and what to
    run for it."""

    def __init__(self, what: str, study_id: str, why: str) -> None:
        super().__init__(status_code=404, detail=f"study {study_id!r} has no {what}: {why}")
