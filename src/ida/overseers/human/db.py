"""Opening the workbench's database: SQLite by default, PostgreSQL by URL, migrated by Alembic.

SQLite runs in WAL mode with every transaction opened by ``BEGIN IMMEDIATE`` (the write lock
taken up front, so two writers never deadlock upgrading read locks) but those of ``reading``,
a long ``busy_timeout`` and ``synchronous=NORMAL``. PostgreSQL runs at READ COMMITTED; the queue's
claim takes its row with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ida.core.errors import IdaError

DEFAULT_DB = "sqlite:///workbench.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # the driver opens no transactions of its own
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get("read_only")
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (a SQLite path or ``postgresql://...``); a bad URL is an
    ``IdaError``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise IdaError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_setup(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # pre-ping: a connection the server dropped (a restart) is replaced, not failed on
        return create_engine(parsed, pool_size=32, max_overflow=32, pool_pre_ping=True)
    raise IdaError(f"unsupported database {backend!r}: use sqlite:///FILE or postgresql://...")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it in an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # a server and a trainer starting together
            conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def open_database(url: str = DEFAULT_DB, upgrade: bool = True) -> Engine:
    """The engine for ``url``, its schema migrated to the newest (unless ``upgrade`` is off);
    a database that cannot be reached or read is a one-line ``IdaError``."""
    engine = make_engine(url)
    try:
        if upgrade:
            migrate(engine)
        else:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
    except OperationalError as err:
        engine.dispose()
        raise IdaError(f"cannot open database {safe_url(url)}: {_first_line(err)}") from None
    except CommandError as err:  # a migration this version does not know: a newer ida's
        engine.dispose()
        raise IdaError(
            f"database {safe_url(url)} was migrated by another version of ida: {err}"
        ) from None
    except SQLAlchemyError as err:
        engine.dispose()
        raise IdaError(
            f"database {safe_url(url)} is not a workbench database: {_first_line(err)}"
        ) from None
    return engine


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only. On SQLite its transaction begins deferred, taking no lock
    (WAL readers see a snapshot and block no writer), where every other transaction begins
    ``BEGIN IMMEDIATE``."""
    with engine.connect() as conn:
        conn.execution_options(read_only=True)
        yield conn


def safe_url(url: str) -> str:
    """``url`` with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _first_line(err: Exception) -> str:
    return (
        str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err) else type(err).__name__
    )


def iter_rows(engine: Engine, query, per: int = 2000) -> Iterator[Any]:
    """The rows of ``query``, fetched ``per`` at a time (a server-side cursor on PostgreSQL)."""
    with reading(engine) as conn:
        result = conn.execution_options(stream_results=True, yield_per=per).execute(query)
        yield from result
