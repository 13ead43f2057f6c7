"""The JSON API for scripted clients, authenticated by ``Authorization: Bearer TOKEN`` only.

* ``POST /api/claim``: the held or a newly leased task (200), or 204 when nothing is queued.
* ``POST /api/tasks/{assignment}/heartbeat`` ``{"fence": N}``: ``{"lease_until": T}``.
* ``POST /api/tasks/{assignment}/submit`` ``{"fence": N, "move": {...}}``:
  ``{"accepted": true, "repeat": false}`` (``repeat``: a retry of the accepted submission).
* ``GET /api/export[?run=NAME]`` (admins): the recorded steps as JSON lines, streamed.
* ``GET /api/health``: ``{"ok": true}``, no sign-in.

The endpoints that touch the queue are plain functions (FastAPI runs them in its threadpool);
sign-in is cached, so a request costs its queue queries and little else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select

from ida.overseers.human.db import reading
from ida.overseers.human.export import export_lines
from ida.overseers.human.protocol import QueueError
from ida.overseers.human.statements import RUNS
from ida.overseers.human.web.auth import Refused, Who
from ida.overseers.human.web.state import json_body, wb

router = APIRouter(prefix="/api")
BIG = 2**62


async def bearer(request: Request) -> Who:
    """The person whose token the request bears (401 otherwise); cookies do not count here."""
    auth = wb(request).auth
    known, who, token = auth.cached_bearer(request.headers.get("authorization"))
    if not known:
        who = await run_in_threadpool(auth.by_token, token)
    if who is None:
        raise Refused("unknown token", 401)
    return who


Bearer = Annotated[Who, Depends(bearer)]
Body = Annotated[Any, Depends(json_body)]


def _assignment(text: str) -> int:
    if not text.isdigit() or int(text) >= BIG:
        raise QueueError(f"no task {text[:40]}", 404)
    return int(text)


def _fence(body: Any) -> int:
    if not isinstance(body, dict):
        raise QueueError('the body must be a JSON object like {"fence": N, ...}', 422)
    fence = body.get("fence")
    if not isinstance(fence, int) or isinstance(fence, bool) or not 0 <= fence < BIG:
        raise QueueError('"fence" must be the integer the claim gave', 422)
    return fence


@router.get("/health")
async def health() -> Response:
    return JSONResponse({"ok": True})


@router.post("/claim")
async def claim(request: Request, who: Bearer) -> Response:
    bench = wb(request)
    held = await bench.run(bench.queue.claim, who.id)
    if held is None:
        return Response(status_code=204)
    bench.remember(held.assignment, held.task, held.size, held.context)
    view = bench.bench(held.task, held.size).view(held.context, static=False)
    return JSONResponse(
        {
            "assignment": held.assignment,
            "fence": held.fence,
            "lease_until": held.lease_until,
            "run": held.run,
            "task": held.task,
            "size": held.size,
            "level": held.level,
            "context": held.context,
            "suggestion": held.suggestion,
            "suspicion": held.suspicion,
            "view": view,
        }
    )


@router.post("/tasks/{assignment}/heartbeat")
async def heartbeat(request: Request, assignment: str, who: Bearer, body: Body) -> Response:
    fence = _fence(body)
    bench = wb(request)
    until = await bench.run(bench.queue.heartbeat, who.id, _assignment(assignment), fence)
    return JSONResponse({"lease_until": until})


@router.post("/tasks/{assignment}/submit")
async def submit(request: Request, assignment: str, who: Bearer, body: Body) -> Response:
    fence, number = _fence(body), _assignment(assignment)
    if "move" not in body:
        raise QueueError('the body needs a "move": {"answer": N} or {"ask": [[...], ...]}', 422)
    bench = wb(request)
    task, size, context = bench.claimed(number)  # cached from the claim, as a rule
    move = bench.bench(task, size).parse_move(context, body["move"])
    accepted = await bench.run(bench.queue.submit, who.id, number, fence, move)
    return JSONResponse({"accepted": True, "repeat": not accepted})


@router.get("/export")
def export(request: Request, who: Bearer, run: str | None = None) -> Response:
    if not who.admin:
        raise Refused("only an admin may export", 403)
    engine = wb(request).engine
    if run is not None:
        with wb(request).serial, reading(engine) as conn:
            if conn.execute(select(RUNS.c.id).where(RUNS.c.name == run)).first() is None:
                raise QueueError(f"no run {run[:100]!r}", 404)
    return StreamingResponse(batched(export_lines(engine, run)), media_type="application/x-ndjson")


def batched(lines, per: int = 1000):
    """``lines`` joined ``per`` at a time: the response sends (and the thread pool hands over)
    one chunk per thousand lines instead of one per line."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == per:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)
