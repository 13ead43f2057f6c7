"""Opening the workbench's database: SQLite by default, PostgreSQL by URL, migrated by Alembic.

SQLite runs in WAL mode with every transaction opened by ``BEGIN IMMEDIATE`` (the write lock
taken up front, so two writers never deadlock upgrading read locks) but those of ``reading``,
a long ``busy_timeout`` and ``synchronous=NORMAL``. PostgreSQL runs at READ COMMITTED; the queue's
claim takes its row with ``FOR UPDATE SKIP LOCKED``.

The queue's own transactions (claim, heartbeat, submit, post) are *plans*: generators that
yield ``Batch``es of the driver's SQL and are sent each batch's results. ``run_plan`` runs one
in a transaction on a connection of the engine's pool (sqlite3 one statement after another;
psycopg a batch at a time in pipeline mode, one round trip per batch), and ``AsyncPostgres``
runs them in an event loop on connections of its own. Driver errors come out as SQLAlchemy's
(``IntegrityError``, ``OperationalError``...), as they did when the queue ran on SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

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


def migrate(engine: Engine, to: str = "head") -> None:
    """Bring the schema to the newest migration, or to revision ``to`` (creating it in an empty
    database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # a server and a trainer starting together
            conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        config.attributes["connection"] = conn
        command.upgrade(config, to)


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


# -- the queue's transactions on the driver's own SQL -----------------------------------------


class Batch(list):
    """Statements, ``(sql, params)`` with ``?`` placeholders, sent together: one round trip on
    PostgreSQL. ``last``: the plan's last batch (it only returns after it), so the commit goes
    in the same round trip."""

    def __init__(self, statements=(), last: bool = False):
        super().__init__(statements)
        self.last = last


Plan = Generator[Batch, list, Any]  # sent, for each statement of a batch: its rows or row count
_PG_SQL: dict[str, str] = {}


def pg_sql(sql: str) -> str:
    """``sql`` with psycopg's placeholders (``%s``)."""
    found = _PG_SQL.get(sql)
    if found is None:
        found = _PG_SQL[sql] = sql.replace("?", "%s")
    return found


def run_plan(engine: Engine, plan: Plan) -> Any:
    """Run ``plan`` in one transaction (``BEGIN IMMEDIATE`` on SQLite) on a connection of
    ``engine``'s pool; returns what the plan returns. The transaction commits when the plan
    returns and rolls back when it raises."""
    fairy = engine.raw_connection()
    conn = fairy.driver_connection
    try:
        if engine.dialect.name == "sqlite":
            return _run_sqlite(conn, plan)
        return _run_psycopg(conn, plan)
    except engine.dialect.loaded_dbapi.Error as err:
        invalidated = bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))
        if invalidated:
            fairy.invalidate()
        raise _wrapped(err, engine.dialect.loaded_dbapi.Error, invalidated) from err
    finally:
        fairy.close()


def _wrapped(err: Exception, base: type, invalidated: bool) -> DBAPIError:
    """A driver's error as SQLAlchemy's (``IntegrityError`` for a unique violation, ...)."""
    return DBAPIError.instance(None, None, err, base, connection_invalidated=invalidated)


def _drive_sqlite(conn, plan: Plan) -> Any:
    """Run ``plan``'s batches on sqlite3 ``conn``, a statement at a time; its return value."""
    try:
        batch = plan.send(None)
        while True:
            results = []
            for sql, params in batch:
                cursor = conn.execute(sql, params)
                results.append(cursor.fetchall() if cursor.description else cursor.rowcount)
            batch = plan.send(results)
    except StopIteration as done:
        return done.value


def _run_sqlite(conn, plan: Plan) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        value = _drive_sqlite(conn, plan)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return value


class SqliteGroups:
    """Runs plans from an event loop on SQLite with group commit: the plans that arrive while
    the loop is busy (requests read in the same turn of the loop) run as one transaction, each
    in a savepoint of its own, committed once, before any of them is answered. A plan that
    fails is rolled back to its savepoint and fails alone; if the commit fails, all fail.
    SQLite writes one transaction at a time anyway; a commit writes every page the transaction
    touched to the log, and the plans of a group touch the same few (the queue's indexes), so
    a group costs little more than one plan. ``lock`` (a ``threading.Lock``) is held around
    each group: the server's threads that write take it too."""

    def __init__(self, engine: Engine, lock=None, most: int = 64):
        self.engine, self.most = engine, most
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self._pending: list[tuple[Plan, asyncio.Future]] = []
        self._scheduled = False

    async def run(self, plan: Plan) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((plan, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        group, self._pending = self._pending[: self.most], self._pending[self.most :]
        self._scheduled = bool(self._pending)
        if self._scheduled:
            asyncio.get_running_loop().call_soon(self._flush)
        error, done = self.engine.dialect.loaded_dbapi.Error, []
        try:
            with self.lock:
                fairy = self.engine.raw_connection()
                try:
                    self._group(fairy.driver_connection, group, done)
                finally:
                    fairy.close()
        except BaseException as err:  # the commit (or the connection) failed: all fail
            failure = _wrapped(err, error, False) if isinstance(err, error) else err
            for _, future in group:
                if not future.done():
                    future.set_exception(failure)
            if not isinstance(err, Exception):
                raise
            return
        for future, value in done:
            if not future.done():
                future.set_result(value)

    def _group(self, conn, group: list, done: list) -> None:
        error = self.engine.dialect.loaded_dbapi.Error
        conn.execute("BEGIN IMMEDIATE")
        try:
            for plan, future in group:
                if future.done():  # cancelled before it ran
                    plan.close()
                    continue
                conn.execute("SAVEPOINT plan")
                try:
                    value = _drive_sqlite(conn, plan)
                except Exception as err:
                    conn.execute("ROLLBACK TO plan")
                    conn.execute("RELEASE plan")
                    if isinstance(err, error):
                        err = _wrapped(err, error, False)
                    future.set_exception(err)
                    continue
                conn.execute("RELEASE plan")
                done.append((future, value))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _run_psycopg(conn, plan: Plan) -> Any:
    """psycopg, its connection as the pool keeps it (not autocommit: the first statement
    begins the transaction), a batch at a time in pipeline mode."""
    try:
        batch = plan.send(None)
        while True:
            with conn.pipeline():
                cursors = [conn.execute(pg_sql(sql), params) for sql, params in batch]
            results = [c.fetchall() if c.description is not None else c.rowcount for c in cursors]
            batch = plan.send(results)
    except StopIteration as done:
        conn.commit()
        return done.value
    except BaseException:
        if not conn.broken and not conn.closed:
            conn.rollback()
        raise


class AsyncPostgres:
    """Runs plans in the event loop on up to ``size`` psycopg connections of its own (made on
    demand, autocommit; a plan of one batch is one pipeline, longer ones send ``BEGIN`` and
    ``COMMIT`` in their first and last): a claim is one round trip and no thread hop. A
    connection that breaks is dropped; the error comes out as SQLAlchemy's
    ``OperationalError`` with ``connection_invalidated`` set, as a request on the engine's pool
    would see it. Connections belong to the event loop that made them: a plan run in another
    loop starts a new set."""

    def __init__(self, url: str, size: int = 32):
        parsed = make_url(url).set(drivername="postgresql")
        self.conninfo = parsed.render_as_string(hide_password=False)
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list = []
        self._slots: asyncio.Semaphore | None = None

    async def run(self, plan: Plan) -> Any:
        import psycopg

        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._idle, self._slots = loop, [], asyncio.Semaphore(self.size)
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            try:
                if conn is None:
                    conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                return await self._run(conn, plan)
            except psycopg.Error as err:
                invalidated = conn is None or conn.broken or conn.closed
                raise _wrapped(err, psycopg.Error, invalidated) from err
            finally:
                if conn is not None:
                    if conn.broken or conn.closed or conn.info.transaction_status:
                        await _close(conn)  # broken, or left in a transaction (cancelled)
                    else:
                        self._idle.append(conn)

    async def _run(self, conn, plan: Plan) -> Any:
        """A plan whose first batch is its last runs in the implicit transaction of one
        pipeline (PostgreSQL commits the statements before a Sync together, or none of them);
        a longer one between ``BEGIN`` and ``COMMIT``."""
        begun = committed = False
        try:
            batch = plan.send(None)
            while True:
                async with conn.pipeline():
                    if not begun and not batch.last:
                        await conn.execute("BEGIN")
                        begun = True
                    cursors = [await conn.execute(pg_sql(sql), params) for sql, params in batch]
                    if begun and batch.last:
                        await conn.execute("COMMIT")
                committed = batch.last
                results = [
                    await c.fetchall() if c.description is not None else c.rowcount for c in cursors
                ]
                batch = plan.send(results)
        except StopIteration as done:
            if not committed:
                await conn.execute("COMMIT")
            return done.value
        except BaseException:
            if begun and not committed and not conn.broken and not conn.closed:
                with contextlib.suppress(Exception):  # the error that got here is the one to see
                    await conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close(conn)


async def _close(conn) -> None:
    try:
        await conn.close()
    except Exception:  # noqa: BLE001 (a connection already gone)
        pass
