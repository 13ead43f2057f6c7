"""``ida workbench``: serve the web workbench, add the people who answer, export their steps.

Only ``typer`` is imported here; the web stack (FastAPI, SQLAlchemy, uvicorn) when a command
runs, so ``ida --help`` stays fast and works without the ``web`` extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ida.core.errors import IdaError

DEFAULT_DB = "sqlite:///workbench.db"  # as ida.overseers.human.db.DEFAULT_DB, without importing it
DB = Annotated[str, typer.Option("--db", help="database URL: sqlite:///FILE or postgresql://...")]

workbench = typer.Typer(
    no_args_is_help=True,
    help="The web workbench where people take H's steps: serve it, add people, export answers.",
)


def need_web() -> None:
    """A one-line error unless the ``web`` extra is installed."""
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise IdaError('the workbench needs the web extra: pip install "ida[web]"') from None


@workbench.callback()
def _check() -> None:
    need_web()


@workbench.command()
def serve(
    db: DB = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    lease: Annotated[float, typer.Option(help="seconds a claimed task is held")] = 120.0,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
    workers: Annotated[
        int, typer.Option(help="server processes (for PostgreSQL; SQLite has one writer)")
    ] = 1,
    unsafe: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Serve the workbench (pages at /work, JSON API at /api)."""
    import os

    import uvicorn

    from ida.overseers.human.web.app import make_app

    if not 0 < port < 65536:
        raise IdaError(f"--port must be from 1 to 65535, not {port}")
    if workers < 1:
        raise IdaError(f"--workers must be at least 1, not {workers}")
    app = make_app(db, lease=lease, unsafe=unsafe)  # migrates, and fails here on a bad --db
    print(f"workbench on http://{host}:{port}/ (database {_safe(db)})", file=sys.stderr)
    run = dict(host=host, port=port, access_log=access_log, log_level="warning")
    if workers == 1:
        uvicorn.run(app, **run)
        return
    os.environ[SETTINGS] = json.dumps({"url": db, "lease": lease, "unsafe": unsafe})
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, **run)


SETTINGS = "IDA_WORKBENCH"  # how ``serve --workers N`` hands its settings to each process


def app_from_environment():
    """The app of ``serve --workers N``, in each worker process."""
    import os

    from ida.overseers.human.web.app import make_app

    return make_app(**json.loads(os.environ[SETTINGS]))


@workbench.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="the person's name")],
    admin: Annotated[bool, typer.Option(help="may see /admin and export")] = False,
    db: DB = DEFAULT_DB,
) -> None:
    """Add a person and print their sign-in token (shown only once)."""
    from ida.overseers.human.db import open_database
    from ida.overseers.human.people import add_person

    engine = open_database(db)
    try:
        token = add_person(engine, name, admin=admin)
    finally:
        engine.dispose()
    print(token)
    print(
        f"the token of {name.strip()} ({'admin' if admin else 'annotator'}) is shown only once: "
        "keep it",
        file=sys.stderr,
    )


@workbench.command()
def export(
    db: DB = DEFAULT_DB,
    run: Annotated[str | None, typer.Option(help="only this run's steps")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="file (default: stdout)")] = None,
) -> None:
    """Write every recorded step as a JSON line (what H' trains on)."""
    from sqlalchemy import select

    from ida.overseers.human.db import open_database, reading
    from ida.overseers.human.export import export_lines
    from ida.overseers.human.statements import RUNS

    engine = open_database(db)
    try:
        if run is not None:
            with reading(engine) as conn:
                if conn.execute(select(RUNS.c.id).where(RUNS.c.name == run)).first() is None:
                    raise IdaError(f"no run {run!r} in {_safe(db)}")
        if out is None:
            for line in export_lines(engine, run):
                sys.stdout.write(line)
            sys.stdout.flush()
            return
        try:
            with out.open("w", encoding="utf-8") as file:
                for line in export_lines(engine, run):
                    file.write(line)
        except OSError as err:
            raise IdaError(f"cannot write {out}: {err.strerror or err}") from None
    finally:
        engine.dispose()


def _safe(url: str) -> str:
    from ida.overseers.human.db import safe_url

    return safe_url(url)
