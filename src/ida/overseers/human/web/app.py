"""The workbench's web app: ``make_app(url)`` opens the database and serves the JSON API
(``api``), the pages people work in (``pages``) and the admin's views (``admin``), on the
shared ``state``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ida.core.errors import IdaError
from ida.overseers.human.db import open_database
from ida.overseers.human.queue import StepQueue
from ida.overseers.human.web import admin, api, pages
from ida.overseers.human.web.state import HERE, UNSAFE, Workbench, install_errors


def make_app(url: str, lease: float = 120.0, unsafe: str | None = None) -> FastAPI:
    """The workbench on the database at ``url``; ``unsafe`` ("no-lock" or "no-fence") turns
    one of the queue's guards off, for the fault harness's negative controls only."""
    if unsafe not in UNSAFE:
        raise IdaError(f"--unsafe must be no-lock or no-fence, not {unsafe!r}")
    if not lease > 0:
        raise IdaError(f"the lease must be positive, not {lease}")
    engine = open_database(url)
    queue = StepQueue(engine, lease, lock=unsafe != "no-lock", fence=unsafe != "no-fence")
    app = FastAPI(title="ida workbench", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.wb = Workbench(engine, queue)
    install_errors(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app
