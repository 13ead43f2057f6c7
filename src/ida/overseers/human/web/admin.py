"""The admin's view of the workbench, and the tree viewer.

* ``/admin`` (admins): the runs (steps open and done), the queue's depth by level, answers per
  hour per person over the last day, agreement among replicas, and the leases in flight.
* ``/runs/{name}/trees`` (admins): the run's recorded trees, newest first, paged; each node's
  question, answer, who answered and whether rightly.
* ``/runs/{name}/model`` (admins): the run's model on a fresh question, as ``ida show`` and
  ``ida audit`` print it, where the run's directory holds a trained run.
"""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import Integer, cast, func, select

from ida.overseers.human.db import reading
from ida.overseers.human.protocol import QueueError
from ida.overseers.human.schema import DONE, HELD, QUEUED, TreeNode
from ida.overseers.human.statements import ANSWERS, PEOPLE, RUNS, A, S
from ida.overseers.human.web.auth import Refused
from ida.overseers.human.web.pages import Session, Signed, page
from ida.overseers.human.web.state import wb

router = APIRouter()
NODES = TreeNode.__table__
TREES_PER_PAGE = 20
AGREEMENT_STEPS = 5000


def need_admin(signed: Session) -> Signed:
    if not signed.who.admin:
        raise Refused("only an admin may see this page", 403)
    return signed


def _hour(engine, column):
    hours = column / 3600
    return func.floor(hours) if engine.dialect.name == "postgresql" else cast(hours, Integer)


def overview(engine, serial) -> dict[str, Any]:
    """Everything /admin shows, read in one connection."""
    now = time.time()
    with serial, reading(engine) as conn:
        runs: dict[int, dict] = {}
        for row in conn.execute(
            select(
                RUNS.c.id, RUNS.c.name, RUNS.c.task, RUNS.c.size, RUNS.c.overlap, S.c.state,
                func.count(S.c.id),
            )
            .select_from(RUNS.outerjoin(S, S.c.run_id == RUNS.c.id))
            .group_by(RUNS.c.id, RUNS.c.name, RUNS.c.task, RUNS.c.size, RUNS.c.overlap, S.c.state)
            .order_by(RUNS.c.id)
        ):  # fmt: skip
            run = runs.setdefault(
                row.id, dict(name=row.name, task=row.task, size=row.size, overlap=row.overlap,
                             open=0, done=0, agreed=None, compared=0),
            )  # fmt: skip
            if row.state is not None:
                run["done" if row.state == DONE else "open"] += row[-1]
        depth = conn.execute(
            select(S.c.level, func.count(A.c.id))
            .select_from(A.join(S, S.c.id == A.c.step_id))
            .where(A.c.state == QUEUED)
            .group_by(S.c.level)
            .order_by(S.c.level)
        ).all()
        hour = _hour(engine, ANSWERS.c.created)
        per_hour: dict[str, dict[int, int]] = defaultdict(dict)
        for name, bucket, count in conn.execute(
            select(PEOPLE.c.name, hour, func.count(ANSWERS.c.id))
            .select_from(ANSWERS.join(PEOPLE, PEOPLE.c.id == ANSWERS.c.person_id))
            .where(ANSWERS.c.created >= now - 24 * 3600)
            .group_by(PEOPLE.c.name, hour)
        ):
            per_hour[name][int(bucket)] = count
        for run_id, run in runs.items():
            if run["overlap"] > 1:
                run["agreed"], run["compared"] = _agreement(conn, run_id)
        leases = conn.execute(
            select(PEOPLE.c.name, RUNS.c.name, S.c.level, A.c.id, A.c.claimed_at, A.c.lease_until)
            .select_from(
                A.join(PEOPLE, PEOPLE.c.id == A.c.holder_id)
                .join(S, S.c.id == A.c.step_id)
                .join(RUNS, RUNS.c.id == S.c.run_id)
            )
            .where(A.c.state == HELD)
            .order_by(A.c.claimed_at)
            .limit(200)
        ).all()
    this_hour = int(now // 3600)
    hours = list(range(this_hour - 23, this_hour + 1))
    return dict(
        runs=list(runs.values()),
        depth=depth,
        hours=[time.strftime("%H", time.localtime(h * 3600)) for h in hours],
        per_hour=[
            (name, [counts.get(h, 0) for h in hours], sum(counts.values()))
            for name, counts in sorted(per_hour.items())
        ],
        leases=[
            dict(person=p, run=r, level=lv, assignment=a,
                 since=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c or now)),
                 left=max(0.0, (u or now) - now))
            for p, r, lv, a, c, u in leases
        ],
    )  # fmt: skip


def _agreement(conn, run_id: int) -> tuple[float | None, int]:
    """The share of the run's last answered steps whose replicas all made the same move."""
    steps = (
        select(S.c.id)
        .where(S.c.run_id == run_id, S.c.state == DONE)
        .order_by(S.c.done_at.desc())
        .limit(AGREEMENT_STEPS)
        .subquery()
    )
    moves: dict[int, set[str]] = defaultdict(set)
    for step, move in conn.execute(
        select(ANSWERS.c.step_id, ANSWERS.c.move).where(ANSWERS.c.step_id.in_(select(steps.c.id)))
    ):
        moves[step].add(json.dumps(move, sort_keys=True))
    if not moves:
        return None, 0
    return sum(len(m) == 1 for m in moves.values()) / len(moves), len(moves)


Admin = Annotated[Signed, Depends(need_admin)]


@router.get("/admin")
def admin(request: Request, signed: Admin) -> Response:
    data = overview(wb(request).engine, wb(request).serial)
    return page(request, "admin.html", user=signed.who, csrf=signed.csrf, **data)


def _run(bench, name: str):
    with bench.serial, reading(bench.engine) as conn:
        row = conn.execute(select(RUNS).where(RUNS.c.name == name)).first()
    if row is None:
        raise QueueError(f"no run {name[:100]!r}", 404)
    return row


@router.get("/runs/{name:path}/trees")
def trees(
    request: Request,
    name: str,
    signed: Admin,
    page_number: Annotated[int, Query(alias="page")] = 1,
) -> Response:
    bench = wb(request)
    run = _run(bench, name)
    view = bench.bench(run.task, run.size)
    number = max(1, page_number)
    with bench.serial, reading(bench.engine) as conn:
        total = conn.execute(
            select(func.count()).where(NODES.c.run_id == run.id, NODES.c.id == NODES.c.tree)
        ).scalar_one()
        roots = conn.execute(
            select(NODES.c.id)
            .where(NODES.c.run_id == run.id, NODES.c.id == NODES.c.tree)
            .order_by(NODES.c.id.desc())
            .limit(TREES_PER_PAGE)
            .offset((number - 1) * TREES_PER_PAGE)
        ).scalars().all()  # fmt: skip
        rows = conn.execute(
            select(NODES, PEOPLE.c.name.label("person"))
            .select_from(NODES.outerjoin(PEOPLE, PEOPLE.c.id == NODES.c.person_id))
            .where(NODES.c.tree.in_(roots))
            .order_by(NODES.c.id)
        ).all()
    nodes = {r.id: _node(view, r) for r in rows}
    for row in rows:
        if row.parent_id in nodes and row.id != row.tree:
            nodes[row.parent_id]["children"].append(nodes[row.id])
    shown = [nodes[r] for r in roots if r in nodes]
    pages = max(1, -(-total // TREES_PER_PAGE))
    return page(
        request, "trees.html", user=signed.who, csrf=signed.csrf, run=run, trees=shown,
        page_number=number, pages=pages, total=total,
    )  # fmt: skip


def _node(view: Any, row: Any) -> dict[str, Any]:
    who = row.person or row.by  # the person who gave the answer, else model, learned, ...
    right = None if row.truth is None else row.answer == row.truth
    return dict(
        question=view.question(row.question), answer=view.answer(row.answer), by=who,
        right=right, truth=None if row.truth is None else view.answer(row.truth),
        facts=[view.fact(f) for f in row.facts or [] if any(f)], round=row.round, children=[],
        when=time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created)),
    )  # fmt: skip


def rich_html(renderable: Any) -> Markup:
    """A rich renderable as HTML (rich escapes the text itself)."""
    from rich.console import Console

    console = Console(record=True, width=120, file=io.StringIO(), color_system="truecolor")
    console.print(renderable)
    return Markup(console.export_html(inline_styles=True, code_format="<pre>{code}</pre>"))


@router.get("/runs/{name:path}/model")
def model(request: Request, name: str, signed: Admin, seed: int = 0) -> Response:
    bench = wb(request)
    run = _run(bench, name)
    shown: list[tuple[str, Markup]] = []
    problem = None
    if not run.directory:
        problem = "this run has no directory: there is no model to show"
    else:
        try:
            from ida.core.registry import domain_of
            from ida.core.runs.run import load_job

            job = load_job(run.directory)
            domain = domain_of(job.cfg.task)
            shown.append(("ida show", rich_html(domain.render(job, level=None, seed=seed))))
            audit = getattr(bench.bench(run.task, run.size), "audit", None)
            if audit is not None:
                shown.append(("ida audit", rich_html(audit(job, seed=seed))))
        except Exception as err:  # a missing or unreadable run is a message, not a 500
            text = str(err).strip().splitlines()
            problem = f"cannot show the model of {run.directory}: " + (
                text[0] if text else type(err).__name__
            )
    return page(
        request, "model.html", user=signed.who, csrf=signed.csrf, run=run, shown=shown,
        problem=problem, seed=seed, escape=escape,
    )  # fmt: skip
