"""People and their sign-in tokens: only a token's hash is stored."""

import hashlib

import pytest
from sqlalchemy import select

from ida.core.errors import IdaError
from ida.overseers.human.people import add_person, person_by_token
from ida.overseers.human.schema import ADMIN, ANNOTATOR, Person


def test_a_token_signs_its_person_in_and_only_its_hash_is_stored(engine):
    ada, root = add_person(engine, "  ada "), add_person(engine, "root", admin=True)
    assert ada != root and len(ada) >= 40
    with engine.connect() as conn:
        stored = conn.execute(select(Person.__table__).order_by(Person.id)).all()
    assert [(p.name, p.role) for p in stored] == [("ada", ANNOTATOR), ("root", ADMIN)]
    assert stored[0].token_hash == hashlib.sha256(ada.encode()).hexdigest()
    assert not any(token in str(tuple(row)) for row in stored for token in (ada, root))
    found = person_by_token(engine, ada)
    assert (found.id, found.name, found.role) == (stored[0].id, "ada", ANNOTATOR)
    assert person_by_token(engine, root).role == ADMIN
    for wrong in ["", ada[:-1], ada + "x", stored[0].token_hash, "x" * 10_000]:
        assert person_by_token(engine, wrong) is None


def test_a_name_is_taken_once(engine):
    add_person(engine, "ada")
    with pytest.raises(IdaError, match="already a person called 'ada'"):
        add_person(engine, " ada")
    assert add_person(engine, "Ada")  # names are case-sensitive


@pytest.mark.parametrize("name", ["", "   ", "a" * 101, "a\nb", "tab\there", "bell\x07"])
def test_a_bad_name_is_refused(sqlite_url, name):
    from ida.overseers.human.db import open_database

    engine = open_database(sqlite_url)
    try:
        with pytest.raises(IdaError, match="1 to 100 printable characters"):
            add_person(engine, name)
    finally:
        engine.dispose()
