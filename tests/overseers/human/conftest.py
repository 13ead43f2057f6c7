"""What the workbench's database tests share: a SQLite file, a throwaway PostgreSQL server for
the session with a fresh database per test, and ``db_url``/``engine`` over both backends.

Where PostgreSQL cannot be started its tests are skipped with the reason, unless
``IDA_REQUIRE_POSTGRES=1`` (CI with PostgreSQL installed), which makes that a failure."""

import os

import pytest

from ida.overseers.human.testing import PostgresUnavailable, postgres_unavailable


@pytest.fixture
def sqlite_url(tmp_path):
    """A SQLite database file of its own (not yet made)."""
    return f"sqlite:///{tmp_path / 'workbench.db'}"


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the whole session (``.url``, ``new_database()``)."""
    from ida.overseers.human.testing import throwaway_postgres

    reason = postgres_unavailable()
    try:
        if reason is not None:
            raise PostgresUnavailable(reason)
        with throwaway_postgres() as server:
            yield server
            return
    except PostgresUnavailable as err:
        if os.environ.get("IDA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {err.reason}")
        pytest.skip(f"PostgreSQL unavailable: {err.reason.splitlines()[0]}")


@pytest.fixture
def postgres_url(postgres):
    """A fresh database of its own on the session's server, dropped afterwards."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """A fresh database on each backend in turn."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def engine(db_url):
    """``db_url`` opened and migrated (disposed afterwards)."""
    from ida.overseers.human.db import open_database

    engine = open_database(db_url)
    yield engine
    engine.dispose()
