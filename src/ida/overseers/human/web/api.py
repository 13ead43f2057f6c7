"""The JSON API for scripted clients, authenticated by ``Authorization: Bearer TOKEN`` only.

* ``POST /api/claim``: the held or a newly leased task (200), or 204 when nothing is queued.
* ``POST /api/tasks/{assignment}/heartbeat`` ``{"fence": N}``: ``{"lease_until": T}``.
* ``POST /api/tasks/{assignment}/submit`` ``{"fence": N, "move": {...}}``:
  ``{"accepted": true, "repeat": false}`` (``repeat``: a retry of the accepted submission).
* ``GET /api/export[?run=NAME]`` (admins): the recorded steps as JSON lines, streamed.
* ``GET /api/health``: ``{"ok": true}``, no sign-in.

The three requests that touch the queue are most of a busy workbench's traffic, so they are
served straight from ASGI (``serve_hot``, called by the app before FastAPI's routing, with the
same checks, answers and errors as the routes below, which share the same functions): no
middleware, dependency solving or validation per request. The queue runs from the event loop
(``StepQueue.aclaim``...): on SQLite in the loop itself, the requests that arrive together
committed together (a thread hop would cost more than a claim), on PostgreSQL on the queue's
own asynchronous connections. Sign-in is cached, so a request costs its queue transaction and
little else.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ida.core.errors import IdaError
from ida.overseers.human.db import reading
from ida.overseers.human.export import export_lines
from ida.overseers.human.protocol import QueueError
from ida.overseers.human.statements import RUNS
from ida.overseers.human.web.auth import Refused, Who
from ida.overseers.human.web.state import (
    MAX_BODY,
    Workbench,
    check_length,
    json_body,
    one_line,
    parse_json,
    wb,
)

router = APIRouter(prefix="/api")
BIG = 2**62
log = logging.getLogger("ida.workbench")


# -- what the routes and the ASGI fast path share ---------------------------------------------


async def who_bears(bench: Workbench, header: str | None) -> Who:
    """The person whose token an Authorization header bears (401 otherwise)."""
    auth = bench.auth
    known, who, token = auth.cached_bearer(header)
    if not known and bench.inline:  # a lookup every few seconds a person: inline on SQLite,
        who = auth.by_token(token)  # as the queue runs there
    elif not known:
        who = await run_in_threadpool(auth.by_token, token)
    if who is None:
        raise Refused("unknown token", 401)
    return who


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


async def claim_task(bench: Workbench, who: Who) -> dict | None:
    """The person's task as the API shows it, or None (nothing queued)."""
    held = await bench.queue.aclaim(who.id)
    if held is None:
        return None
    bench.remember(held.assignment, held.task, held.size, held.context)
    view = bench.bench(held.task, held.size).view(held.context, static=False)
    return {
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


async def heartbeat_task(bench: Workbench, who: Who, assignment: str, body: Any) -> dict:
    fence, number = _fence(body), _assignment(assignment)
    until = await bench.queue.aheartbeat(who.id, number, fence)
    return {"lease_until": until}


async def submit_task(bench: Workbench, who: Who, assignment: str, body: Any) -> dict:
    fence, number = _fence(body), _assignment(assignment)
    if "move" not in body:
        raise QueueError('the body needs a "move": {"answer": N} or {"ask": [[...], ...]}', 422)
    task, size, context = bench.claimed(number)  # cached from the claim, as a rule
    move = bench.bench(task, size).parse_move(context, body["move"])
    accepted = await bench.queue.asubmit(who.id, number, fence, move)
    return {"accepted": True, "repeat": not accepted}


# -- the hot requests, straight from ASGI -----------------------------------------------------

HOT = re.compile(r"/api/(?:claim|tasks/([^/]+)/(heartbeat|submit))")
JSON_HEADER = (b"content-type", b"application/json")


class _Gone(Exception):
    """The client went away before its request's body arrived."""


async def serve_hot(bench: Workbench, scope: dict, receive, send) -> bool:
    """Serve ``POST /api/claim``, ``.../heartbeat`` or ``.../submit`` from ASGI; False: not
    one of them (FastAPI serves it, and answers a wrong method or path as it does)."""
    if scope["method"] != "POST" or (found := HOT.fullmatch(scope["path"])) is None:
        return False
    authorization = length = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"content-length" and length is None:
            length = value.decode("latin-1")
    assignment, action = found.groups()
    try:
        who = await who_bears(bench, authorization)
        if action is None:
            payload = await claim_task(bench, who)
            status = 200 if payload is not None else 204
        else:
            body = await _json_body(length, receive)
            serve = submit_task if action == "submit" else heartbeat_task
            status, payload = 200, await serve(bench, who, assignment, body)
    except _Gone:
        return True
    except Exception as err:  # noqa: BLE001 (answered as the app's error handlers answer)
        status, payload = _failure(scope["path"], err)
    if payload is None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return True
    content = json.dumps(
        payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()  # as JSONResponse renders it
    headers = [(b"content-length", str(len(content)).encode()), JSON_HEADER]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
    return True


async def _json_body(length: str | None, receive) -> Any:
    """The body's JSON as ``state.json_body`` reads it: refused past 64 KiB (413), by its
    Content-Length or its bytes; 400 if not UTF-8 or not JSON; None if empty."""
    check_length(length)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused("the request body is over 64 KiB", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return parse_json(chunks[0] if len(chunks) == 1 else b"".join(chunks))


def _failure(path: str, err: Exception) -> tuple[int, dict]:
    """(status, body) of a refused or failed API request, as ``state.install_errors`` answers
    it."""
    if isinstance(err, Refused | QueueError):
        return err.status, {"error": one_line(err)}
    if isinstance(err, IdaError):
        return 400, {"error": one_line(err)}
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return 503, {"error": "the database is restarting: try again in a moment"}
    if isinstance(err, ValueError):
        return 422, {"error": one_line(err)}
    log.error("error serving %s", path, exc_info=err)
    return 500, {"error": "internal server error"}


# -- the routes ------------------------------------------------------------------------------


async def bearer(request: Request) -> Who:
    """The person whose token the request bears (401 otherwise); cookies do not count here."""
    return await who_bears(wb(request), request.headers.get("authorization"))


Bearer = Annotated[Who, Depends(bearer)]
Body = Annotated[Any, Depends(json_body)]


@router.get("/health")
async def health() -> Response:
    return JSONResponse({"ok": True})


@router.post("/claim")
async def claim(request: Request, who: Bearer) -> Response:
    held = await claim_task(wb(request), who)
    return Response(status_code=204) if held is None else JSONResponse(held)


@router.post("/tasks/{assignment}/heartbeat")
async def heartbeat(request: Request, assignment: str, who: Bearer, body: Body) -> Response:
    return JSONResponse(await heartbeat_task(wb(request), who, assignment, body))


@router.post("/tasks/{assignment}/submit")
async def submit(request: Request, assignment: str, who: Bearer, body: Body) -> Response:
    return JSONResponse(await submit_task(wb(request), who, assignment, body))


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
