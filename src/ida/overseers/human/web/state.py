"""What every request of the workbench shares: the ``Workbench`` (database, queue, sign-in,
caches), the request body read within its limit, and the errors, which never carry a traceback
to a client: a refused API request is ``{"error": "one line"}`` with its status, a refused page
request a small HTML page saying why."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ida.core.errors import IdaError
from ida.core.registry import domain_of
from ida.overseers.human.db import reading
from ida.overseers.human.protocol import QueueError
from ida.overseers.human.queue import StepQueue
from ida.overseers.human.statements import RUNS, A, S
from ida.overseers.human.web.auth import Auth, NotSignedIn, Refused, session_secret

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024
UNSAFE = (None, "no-lock", "no-fence")
log = logging.getLogger("ida.workbench")


class Workbench:
    """What every request shares: the database, the queue, sign-in, and caches of the tasks'
    views and of the contexts of recently claimed assignments.

    ``serial`` is held around every use of the database: on SQLite, whose every transaction
    takes the one write lock (``BEGIN IMMEDIATE``), the server's threads wait their turn on a
    mutex instead of in SQLite's busy handler, which sleeps and polls (under load some waited
    seconds while others went first); on PostgreSQL it is a no-op."""

    def __init__(self, engine: Engine, queue: StepQueue):
        self.engine, self.queue = engine, queue
        sqlite = engine.dialect.name == "sqlite"
        self.serial = threading.Lock() if sqlite else contextlib.nullcontext()
        self.inline = sqlite
        self.auth = Auth(engine, session_secret(engine), self.serial)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html
        self._benches: dict[tuple[str, int], Any] = {}
        self._contexts: OrderedDict[int, tuple[str, int, dict]] = OrderedDict()
        self._lock = threading.Lock()

    async def run(self, call, *args) -> Any:
        """``call(*args)`` on the database: on SQLite in the event loop itself (its writes take
        turns anyway, and a thread hop costs more than a claim), on PostgreSQL in the thread
        pool, so that requests wait on the database side by side."""
        if self.inline:
            with self.serial:
                return call(*args)
        return await run_in_threadpool(call, *args)

    def bench(self, task: str, size: int) -> Any:
        """The domain's view of ``task`` at ``size`` (``Domain.workbench``), cached."""
        found = self._benches.get((task, size))
        if found is None:
            domain = domain_of(task)
            if domain.workbench is None:
                raise IdaError(f"the {domain.name} domain has no workbench view")
            found = self._benches[(task, size)] = domain.workbench(task, size)
        return found

    def remember(self, assignment: int, task: str, size: int, context: dict) -> None:
        with self._lock:
            self._contexts[assignment] = (task, size, context)
            if len(self._contexts) > 20_000:
                self._contexts.popitem(last=False)

    def claimed(self, assignment: int) -> tuple[str, int, dict]:
        """(task, size, context) of an assignment's step; 404 if there is no such task."""
        found = self._contexts.get(assignment)
        if found is not None:
            return found
        with self.serial, reading(self.engine) as conn:
            row = conn.execute(
                select(RUNS.c.task, RUNS.c.size, S.c.context)
                .select_from(A.join(S, S.c.id == A.c.step_id).join(RUNS, RUNS.c.id == S.c.run_id))
                .where(A.c.id == assignment)
            ).first()
        if row is None:
            raise QueueError(f"no task {assignment}", 404)
        self.remember(assignment, *row)
        return tuple(row)


def wb(request: Request) -> Workbench:
    return request.app.state.wb


def check_length(length: str | None) -> None:
    """A request's Content-Length header (if any), refused if malformed (400) or past 64 KiB
    (413)."""
    if length is not None:
        if not length.isdigit():
            raise Refused("bad Content-Length", 400)
        if int(length) > MAX_BODY:
            raise Refused("the request body is over 64 KiB", 413)


async def read_body(request: Request) -> bytes:
    """The request's body, refused (413) past 64 KiB by its Content-Length or its bytes."""
    check_length(request.headers.get("content-length"))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused("the request body is over 64 KiB", 413)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # the form parser reads it from here
    return body


async def json_body(request: Request) -> Any:
    """The request's JSON (None for an empty body): 400 if not UTF-8 or not JSON."""
    return parse_json(await read_body(request))


def parse_json(body: bytes) -> Any:
    """A request body's JSON (None for an empty body): 400 if not UTF-8 or not JSON."""
    if not body.strip():
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused("the request body is not valid UTF-8", 400) from None
    except ValueError:
        raise Refused("the request body is not JSON", 400) from None


def one_line(message: object) -> str:
    text = str(message).strip().splitlines()
    return (text[0] if text else "error")[:500]


def error_response(request: Request, message: str, status: int) -> Response:
    """The error as JSON on /api, else as a small page."""
    message = one_line(message)
    if request.url.path.startswith("/api") or request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"error": message}, status_code=status)
    return wb(request).templates.TemplateResponse(
        request, "error.html", {"message": message, "status": status}, status_code=status
    )


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    @app.exception_handler(QueueError)
    async def refused(request: Request, err: Refused | QueueError) -> Response:
        return error_response(request, str(err), err.status)

    @app.exception_handler(NotSignedIn)
    async def sign_in(request: Request, err: NotSignedIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(IdaError)
    async def ida_error(request: Request, err: IdaError) -> Response:
        return error_response(request, str(err), 400)

    @app.exception_handler(ValueError)
    async def value_error(request: Request, err: ValueError) -> Response:
        return error_response(request, str(err), 422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        errors = err.errors()
        where = ".".join(str(p) for p in errors[0].get("loc", ())) if errors else "request"
        return error_response(request, f"invalid {where}", 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        message = {404: "not found", 405: "method not allowed"}.get(err.status_code, err.detail)
        return error_response(request, str(message), err.status_code)

    @app.exception_handler(DBAPIError)
    async def database_down(request: Request, err: DBAPIError) -> Response:
        if not err.connection_invalidated:
            return await crashed(request, err)
        return error_response(request, "the database is restarting: try again in a moment", 503)

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> Response:
        log.exception("error serving %s", request.url.path)
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": "internal server error"}, status_code=500)
        return HTMLResponse("<h1>internal server error</h1>", status_code=500)
