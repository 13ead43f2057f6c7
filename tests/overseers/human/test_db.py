"""Opening the workbench's database: the migration makes exactly the schema, migrating again
changes nothing, what cannot be opened is a one-line error, SQLite runs in WAL mode."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text

from ida.core.errors import IdaError
from ida.overseers.human.db import migrate, open_database
from ida.overseers.human.schema import Base, Run
from ida.overseers.human.testing import free_port


def schema_of(engine) -> dict:
    """Every table's columns, indexes and unique constraints, as the database reports them."""
    found = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)),
            sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
        )
        for table in sorted(found.get_table_names())
    }


def test_the_migration_makes_exactly_the_schema(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert differences == []
    assert version == "0003"
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    with engine.begin() as conn:  # the comparison does see a difference
        conn.execute(text("DROP INDEX ix_assignments_queued"))
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d[0] for d in differences] == ["add_index"]


def test_migrating_twice_changes_nothing(engine, db_url):
    with engine.begin() as conn:
        conn.execute(insert(Run.__table__).values(name="r", task="t", size=4, created=0.0))
    before = schema_of(engine)
    migrate(engine)
    again = open_database(db_url)
    try:
        assert schema_of(again) == before
        with again.connect() as conn:
            assert conn.execute(select(Run.__table__.c.name)).scalars().all() == ["r"]
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        again.dispose()


def test_the_tree_viewers_integer_answers_survive_and_words_fit(db_url):
    """Migration 0003: a tree recorded with integer answers before reads the same after, and
    a node's answer may then be any domain's (words)."""
    from ida.overseers.human.db import make_engine
    from ida.overseers.human.statements import NODES

    engine = make_engine(db_url)
    try:
        migrate(engine, "0002")
        node = dict(run_id=1, tree=1, parent_id=None, round=0, question=[1, 2], by="model",
                    created=0.0)  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(Run.__table__).values(name="r", task="t", size=4, created=0.0))
            conn.execute(text(
                'INSERT INTO nodes (id, run_id, tree, round, question, answer, truth, "by", '
                "created) VALUES (1, 1, 1, 0, '[1, 2]', 5, 6, 'model', 0.0)"
            ))  # fmt: skip
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(insert(NODES).values(id=2, answer="Ada Brook", truth=None, **node))
            found = conn.execute(select(NODES.c.answer, NODES.c.truth).order_by(NODES.c.id)).all()
        assert found == [(5, 6), ("Ada Brook", None)]
    finally:
        engine.dispose()


def one_line(err: IdaError, *parts: str) -> None:
    message = str(err)
    assert "\n" not in message and "Traceback" not in message, message
    assert err.__suppress_context__ or err.__context__ is None
    for part in parts:
        assert part in message, message


@pytest.mark.parametrize(
    "url, says",
    [
        ("no such url", "not a database URL"),
        ("mysql://someone@localhost/db", "unsupported database 'mysql'"),
        ("oracle+cx_oracle://x@y/z", "unsupported database 'oracle'"),
    ],
)
def test_a_bad_url_is_a_one_line_error(url, says):
    with pytest.raises(IdaError) as caught:
        open_database(url)
    one_line(caught.value, says)


def test_an_unreachable_postgresql_is_a_one_line_error():
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(IdaError) as caught:
        open_database(url)
    one_line(caught.value, "cannot open database", "127.0.0.1")
    assert "secret" not in str(caught.value)


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(IdaError) as caught:
        open_database(f"sqlite:///{path}")
    one_line(caught.value, str(path), "not a database")
    assert path.read_bytes().startswith(b"these are my notes")


def test_a_sqlite_file_in_a_missing_directory_is_a_one_line_error(tmp_path):
    with pytest.raises(IdaError) as caught:
        open_database(f"sqlite:///{tmp_path / 'nowhere' / 'w.db'}")
    one_line(caught.value, "cannot open database")


def test_a_database_migrated_by_another_version_is_a_one_line_error(engine, db_url):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(IdaError) as caught:
        open_database(db_url)
    one_line(caught.value, "another version", "9999")


def test_sqlite_runs_in_wal_mode(sqlite_url):
    engine = open_database(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_an_engine_outlives_a_postgresql_crash(postgres):
    """A server stopped as if it crashed and started again: committed rows are there and the
    same engine reconnects (its pool checks connections before use). (``postgres``: skipped
    where PostgreSQL cannot be started.)"""
    from ida.overseers.human.testing import throwaway_postgres

    with throwaway_postgres() as server:
        engine = open_database(server.new_database("crashy"))
        try:
            with engine.begin() as conn:
                conn.execute(insert(Run.__table__).values(name="r", task="t", size=4, created=0))
            server.stop("immediate")
            with pytest.raises(IdaError):
                open_database(server.url)
            server.start()
            with engine.connect() as conn:
                assert conn.execute(select(Run.__table__.c.name)).scalars().all() == ["r"]
        finally:
            engine.dispose()
