"""Live progress of a study run over a WebSocket."""

from __future__ import annotations

import time
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.context import ApiContext
from api.study_views import progress_model
from maestro_pipeline.keys import StudyKey

FINAL_STATUSES = ("completed", "failed")
POLICY_VIOLATION = 1008

router = APIRouter(prefix="/optimization", tags=["optimization"])


def _current(ctx: ApiContext, key: StudyKey, run_id: str | None) -> dict[str, Any]:
    """The progress file; a synthetic state when there is none (completed if published,
    pending otherwise) or when it belongs to another run than ``run_id`` (pending)."""
    progress = progress_model(key, ctx.studies.read_progress(key))
    if run_id is not None and (progress is None or progress.run_id != run_id):
        return {"study_id": key.study_id, "status": "pending", "run_id": run_id}
    if progress is not None:
        return progress.model_dump(mode="json")
    published = ctx.studies.current_dir(key) is not None
    return {"study_id": key.study_id, "status": "completed" if published else "pending"}


async def _client_left(websocket: WebSocket, seconds: float) -> bool:
    """Wait up to ``seconds`` for a client message; True once the client disconnected."""
    with anyio.move_on_after(seconds):
        message = await websocket.receive()
        return message["type"] == "websocket.disconnect"
    return False


@router.websocket("/{tid}/progress")
async def study_progress(websocket: WebSocket, tid: str, run_id: str | None = None) -> None:
    """Sends the study's progress JSON (status, fold, trials_done, best_value...) on every change;
    closes once the status is completed or failed, or after the configured time limit.

    With ``run_id`` (as returned by POST /optimization) only that run's progress counts: until
    it starts, the state is ``pending``, whatever an earlier run left behind."""
    ctx: ApiContext = websocket.app.state.context
    await websocket.accept()
    try:
        key = StudyKey.from_study_id(tid)
    except ValueError as exc:
        await websocket.send_text(orjson.dumps({"error": str(exc), "field": "tid"}).decode())
        await websocket.close(code=POLICY_VIOLATION, reason="invalid study id")
        return
    deadline = time.monotonic() + ctx.config.progress_max_seconds
    last: dict[str, Any] | None = None
    try:
        while True:
            state = await anyio.to_thread.run_sync(_current, ctx, key, run_id)
            if state != last:
                await websocket.send_text(orjson.dumps(state).decode())
                last = state
            if state["status"] in FINAL_STATUSES:
                await websocket.close(code=1000, reason=state["status"])
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await websocket.close(code=1000, reason="time limit reached")
                return
            wait = min(ctx.config.progress_poll_seconds, remaining)
            if await _client_left(websocket, wait):
                return
    except WebSocketDisconnect:
        return
