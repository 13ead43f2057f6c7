"""Who is asking: bearer tokens for the JSON API, signed session cookies and CSRF tokens for
the pages.

* The API takes only ``Authorization: Bearer TOKEN``; the person is looked up by the token's
  SHA-256 and remembered for a few seconds (a busy client makes no query per request).
* A page session is a cookie ``ida_session`` = ``person.nonce.issued.signature``, signed with
  HMAC-SHA256 by a secret kept in the ``settings`` table (made on first use, so a restarted
  server keeps people signed in). It is HttpOnly and SameSite=Lax.
* Every form carries a CSRF token: the HMAC of the session's nonce (the login form's, of a
  nonce in a short-lived cookie of its own); a POST without the right one is refused (403).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import threading
import time
from typing import NamedTuple

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ida.overseers.human.db import reading
from ida.overseers.human.people import token_hash
from ida.overseers.human.schema import ADMIN, Person, Setting

SESSION, LOGIN = "ida_session", "ida_login"
SESSION_SECONDS = 30 * 24 * 3600
CACHE_SECONDS = 5.0
PEOPLE, SETTINGS = Person.__table__, Setting.__table__
SECRET_NAME = "session_secret"


class Refused(Exception):
    """A request refused before the queue sees it: ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class NotSignedIn(Exception):
    """A page asked for without a session: the app sends the browser to the login page."""


class Who(NamedTuple):
    id: int
    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == ADMIN


def session_secret(engine: Engine) -> bytes:
    """The key that signs sessions, made and stored on first use."""
    query = select(SETTINGS.c.value).where(SETTINGS.c.name == SECRET_NAME)
    with reading(engine) as conn:
        value = conn.execute(query).scalar()
    if value is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(SETTINGS).values(name=SECRET_NAME, value=secrets.token_hex(32)))
        except IntegrityError:  # another server made it first
            pass
        with reading(engine) as conn:
            value = conn.execute(query).scalar_one()
    return bytes.fromhex(value)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Auth:
    """Bearer tokens, sessions and CSRF tokens for one server."""

    def __init__(self, engine: Engine, secret: bytes, serial=None):
        self.engine, self.secret = engine, secret
        self.serial = serial if serial is not None else contextlib.nullcontext()
        self._by_hash: dict[str, tuple[float, Who | None]] = {}
        self._by_id: dict[int, tuple[float, Who | None]] = {}
        self._lock = threading.Lock()

    # people, cached for a few seconds

    def _cached(self, cache: dict, key, where) -> Who | None:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.serial, reading(self.engine) as conn:
            row = conn.execute(
                select(PEOPLE.c.id, PEOPLE.c.name, PEOPLE.c.role).where(where)
            ).first()
        who = None if row is None else Who(*row)
        with self._lock:
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = (now + CACHE_SECONDS, who)
        return who

    def by_token(self, token: str) -> Who | None:
        if not token or len(token) > 200:
            return None
        digest = token_hash(token)
        return self._cached(self._by_hash, digest, PEOPLE.c.token_hash == digest)

    def by_id(self, person: int) -> Who | None:
        return self._cached(self._by_id, person, PEOPLE.c.id == person)

    def cached_bearer(self, header: str | None) -> tuple[bool, Who | None, str]:
        """(known, person, token) from an Authorization header without touching the database:
        ``known`` False means the cache has no answer yet (ask ``by_token``)."""
        if not header or not header.startswith("Bearer "):
            raise Refused("sign in: send Authorization: Bearer TOKEN", 401)
        token = header[7:].strip()
        if not token or len(token) > 200:
            raise Refused("unknown token", 401)
        hit = self._by_hash.get(token_hash(token))
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1], token
        return False, None, token

    # signatures

    def sign(self, text: str) -> str:
        return _b64(hmac.new(self.secret, text.encode(), hashlib.sha256).digest())

    def new_session(self, person: int) -> str:
        payload = f"{person}.{secrets.token_urlsafe(12)}.{int(time.time())}"
        return f"{payload}.{self.sign(payload)}"

    def session(self, cookie: str | None) -> tuple[Who, str] | None:
        """The person signed in by a session cookie, and the session's CSRF token."""
        if not cookie or len(cookie) > 300:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(self.sign(payload).encode(), signature.encode()):
            return None
        try:
            person, nonce, issued = payload.split(".")
            person_id, issued_at = int(person), int(issued)
        except ValueError:
            return None
        if issued_at + SESSION_SECONDS < time.time():
            return None
        who = self.by_id(person_id)
        return None if who is None else (who, self.csrf_token(nonce))

    def csrf_token(self, nonce: str) -> str:
        return self.sign("csrf." + nonce)

    def check_csrf(self, expected: str | None, given: object) -> None:
        if (
            not expected
            or not isinstance(given, str)
            or not hmac.compare_digest(expected.encode(), given.encode())
        ):
            raise Refused(
                "this form's security token is missing or out of date: reload the page and try "
                "again (nothing was changed)",
                403,
            )
