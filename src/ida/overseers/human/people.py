"""People who may answer: ``add_person`` makes one and returns their sign-in token, which is
shown once; only its SHA-256 is stored (a random 256-bit token needs no slow hash)."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ida.core.errors import IdaError
from ida.overseers.human.db import reading
from ida.overseers.human.schema import ADMIN, ANNOTATOR, Person

PEOPLE = Person.__table__


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_person(engine: Engine, name: str, admin: bool = False) -> str:
    """Add ``name`` (role admin or annotator); returns their new token."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise IdaError("a person's name must be 1 to 100 printable characters")
    token = secrets.token_urlsafe(32)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(PEOPLE).values(
                    name=name,
                    role=ADMIN if admin else ANNOTATOR,
                    token_hash=token_hash(token),
                    created=time.time(),
                )
            )
    except IntegrityError:
        raise IdaError(f"there is already a person called {name!r}") from None
    return token


def person_by_token(engine: Engine, token: str):
    """The person row (id, name, role) whose token this is, or None."""
    if not token or len(token) > 200:
        return None
    with reading(engine) as conn:
        return conn.execute(
            select(PEOPLE.c.id, PEOPLE.c.name, PEOPLE.c.role).where(
                PEOPLE.c.token_hash == token_hash(token)
            )
        ).first()
