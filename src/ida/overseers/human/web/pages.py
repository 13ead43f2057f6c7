"""The pages people work in: sign in with their token, take the next step, sign out.

``/work`` claims (or shows the held) step: the facts, the question, the answered subquestions,
the model's suggestion and how suspect it is, and the moves (answer, ask one or two
subquestions, or combine the answers), as the domain's view draws them (``view.free_text``:
typed answers and subquestions; else choices and question forms as selects) and reads them
back from the form (``form_move``). The page sends a
heartbeat every lease / 3 seconds while it is open; a submission goes on to the next step.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select

from ida.overseers.human.db import reading
from ida.overseers.human.protocol import form_int
from ida.overseers.human.schema import QUEUED
from ida.overseers.human.statements import ANSWERS, A
from ida.overseers.human.web.auth import (
    LOGIN,
    SESSION,
    SESSION_SECONDS,
    NotSignedIn,
    Refused,
    Who,
)
from ida.overseers.human.web.state import Workbench, read_body, wb

router = APIRouter()


class Signed:
    """The person a page request is from, and their session's CSRF token."""

    def __init__(self, who: Who, csrf: str):
        self.who, self.csrf = who, csrf


def signed_in(request: Request) -> Signed | None:
    found = wb(request).auth.session(request.cookies.get(SESSION))
    return None if found is None else Signed(*found)


def need_session(request: Request) -> Signed:
    """The signed-in person; a page request without a session goes to the login page."""
    signed = signed_in(request)
    if signed is None:
        if request.method == "GET":
            raise NotSignedIn()
        raise Refused("you are not signed in (sign in again; nothing was changed)", 401)
    return signed


async def form(request: Request) -> dict[str, Any]:
    """The POSTed form (64 KiB at most)."""
    await read_body(request)
    return dict(await request.form())


Session = Annotated[Signed, Depends(need_session)]
Form = Annotated[dict, Depends(form)]


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return wb(request).templates.TemplateResponse(request, name, context, status_code=status)


def go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    return go("/work" if signed_in(request) else "/login")


def _https(request: Request) -> bool:
    """Whether the page was asked for over HTTPS (behind a proxy too: uvicorn reads its
    X-Forwarded-Proto), so that cookies are then sent over HTTPS only."""
    return request.url.scheme == "https"


@router.get("/login")
def login_form(request: Request) -> Response:
    return login_page(request)


def login_page(request: Request, error: str | None = None) -> Response:
    """The sign-in form (with ``error``, set by the server only, never from the URL)."""
    nonce = secrets.token_urlsafe(12)
    response = page(
        request, "login.html", status=401 if error else 200, error=error,
        csrf=wb(request).auth.csrf_token("login." + nonce), user=None,
    )  # fmt: skip
    response.set_cookie(
        LOGIN, nonce, max_age=3600, httponly=True, samesite="lax", secure=_https(request)
    )
    return response


@router.post("/login")
def login(request: Request, fields: Form) -> Response:
    auth = wb(request).auth
    nonce = request.cookies.get(LOGIN)
    auth.check_csrf(nonce and auth.csrf_token("login." + nonce), fields.get("csrf"))
    token = fields.get("token")
    who = auth.by_token(token.strip()) if isinstance(token, str) else None
    if who is None:
        return login_page(request, error="That token is not known here.")
    response = go("/work")
    response.set_cookie(
        SESSION, auth.new_session(who.id), max_age=SESSION_SECONDS, httponly=True,
        samesite="lax", secure=_https(request),
    )  # fmt: skip
    response.delete_cookie(LOGIN)
    return response


@router.get("/logout")
def logout_page(request: Request, signed: Session) -> Response:
    return page(request, "logout.html", user=signed.who, csrf=signed.csrf)


@router.post("/logout")
def logout(request: Request, signed: Session, fields: Form) -> Response:
    wb(request).auth.check_csrf(signed.csrf, fields.get("csrf"))
    response = go("/login")
    response.delete_cookie(SESSION)
    return response


def progress(bench: Workbench, person: int) -> dict[str, int]:
    """Answers the person gave today (local midnight on) and in all, and the queue left."""
    midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
    with bench.serial, reading(bench.engine) as conn:
        mine = ANSWERS.c.person_id == person
        total = conn.execute(select(func.count()).where(mine)).scalar_one()
        today = conn.execute(
            select(func.count()).where(mine, ANSWERS.c.created >= midnight)
        ).scalar_one()
        left = conn.execute(select(func.count()).where(A.c.state == QUEUED)).scalar_one()
    return {"today": today, "total": total, "queued": left}


@router.get("/work")
def work(request: Request, signed: Session) -> Response:
    bench = wb(request)
    with bench.serial:
        held = bench.queue.claim(signed.who.id)
    done = progress(bench, signed.who.id)
    if held is None:
        return page(request, "idle.html", user=signed.who, csrf=signed.csrf, progress=done)
    bench.remember(held.assignment, held.task, held.size, held.context)
    view = bench.bench(held.task, held.size).view(held.context)
    suggestion = None
    if held.suggestion is not None:
        suggestion = bench.bench(held.task, held.size).answer(held.suggestion)
    return page(
        request, "work.html", user=signed.who, csrf=signed.csrf, held=held, view=view,
        suggestion=suggestion, progress=done, lease=bench.queue.lease,
    )  # fmt: skip


@router.post("/work/submit")
def submit(request: Request, signed: Session, fields: Form) -> Response:
    bench = wb(request)
    bench.auth.check_csrf(signed.csrf, fields.get("csrf"))
    assignment, fence = form_int(fields, "assignment"), form_int(fields, "fence")
    task, size, context = bench.claimed(assignment)
    view = bench.bench(task, size)
    move = view.parse_move(context, view.form_move(fields))
    with bench.serial:
        bench.queue.submit(signed.who.id, assignment, fence, move)
    return go("/work")


@router.post("/work/heartbeat")
def heartbeat(request: Request, signed: Session, fields: Form) -> Response:
    bench = wb(request)
    bench.auth.check_csrf(signed.csrf, fields.get("csrf"))
    with bench.serial:
        until = bench.queue.heartbeat(
            signed.who.id, form_int(fields, "assignment"), form_int(fields, "fence")
        )
    return JSONResponse({"lease_until": until})
