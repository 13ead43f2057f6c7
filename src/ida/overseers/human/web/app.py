"""The workbench's web app: ``make_app(url)`` opens the database and serves the JSON API
(``api``), the pages people work in (``pages``) and the admin's views (``admin``), on the
shared ``state``. The API's claim, heartbeat and submit are served before FastAPI's routing
(``api.serve_hot``): they are most of the requests, and each costs a fraction of what it
would through the middleware, routing and dependencies."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ida.core.errors import IdaError
from ida.overseers.human.db import open_database
from ida.overseers.human.queue import StepQueue
from ida.overseers.human.web import admin, api, pages
from ida.overseers.human.web.state import HERE, UNSAFE, Workbench, install_errors


class WorkbenchApp(FastAPI):
    """FastAPI, with the API's hot requests served straight from ASGI."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and await api.serve_hot(self.state.wb, scope, receive, send):
            return
        await super().__call__(scope, receive, send)


@asynccontextmanager
async def lifespan(app: FastAPI):
    """While serving, Python's garbage collector leaves out what exists at start (modules, the
    app: ``gc.freeze``) and collects the young generation every 50,000 allocations rather than
    700. With the defaults a request's garbage set off frequent collections, and every so often
    one of the oldest generation, which walks every object of the process: measured, 0.46
    against 0.36 ms of CPU a claim and its submission, and twice the p99 latency."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        await app.state.wb.queue.aclose()  # the queue's own PostgreSQL connections


def make_app(url: str, lease: float = 120.0, unsafe: str | None = None) -> FastAPI:
    """The workbench on the database at ``url``; ``unsafe`` ("no-lock" or "no-fence") turns
    one of the queue's guards off, for the fault harness's negative controls only."""
    if unsafe not in UNSAFE:
        raise IdaError(f"--unsafe must be no-lock or no-fence, not {unsafe!r}")
    if not lease > 0:
        raise IdaError(f"the lease must be positive, not {lease}")
    engine = open_database(url)
    queue = StepQueue(engine, lease, lock=unsafe != "no-lock", fence=unsafe != "no-fence")
    app = WorkbenchApp(
        title="ida workbench", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.wb = Workbench(engine, queue)
    queue.share_lock(app.state.wb.serial)  # SQLite: the server's threads write under it too
    install_errors(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app
