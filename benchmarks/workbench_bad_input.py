"""Bad input at the workbench: each kind the issue lists is tried against the real app on a
fresh SQLite database, and its answer recorded: the status, the one-line error, and whether the
database changed (it must not).

    python benchmarks/workbench_bad_input.py            # a Markdown table
    python benchmarks/workbench_bad_input.py --json     # the same as JSON
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import tempfile
import warnings

import numpy as np
from sqlalchemy import func, select

from ida.domains.qa.tasks import get_task
from ida.overseers.human.db import open_database
from ida.overseers.human.people import add_person
from ida.overseers.human.protocol import Post, context_of
from ida.overseers.human.queue import StepQueue
from ida.overseers.human.statements import ANSWERS, SQ, A, S
from ida.overseers.human.web import make_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SCRIPT = "<script>alert(1)</script>"


def snapshot(engine) -> tuple:
    """What a refused request must leave as it was."""
    with engine.connect() as conn:
        counts = tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (S, A, ANSWERS, SQ)
        )
        states = tuple(conn.execute(select(A.c.state, A.c.fence).order_by(A.c.id)).all())
    return counts, states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp(prefix='ida-bad-')}/w.db"
    engine = open_database(url)
    queue = StepQueue(engine)
    tokens = {name: add_person(engine, name, admin=name == "ada") for name in ("ada", "bob")}
    add_person(engine, SCRIPT)
    task, rng = get_task("union_find", 8), np.random.default_rng(0)
    run = queue.run_id(SCRIPT, "union_find", 8)
    for _ in range(4):
        inst = task.sample_instance(rng)
        queue.post(
            run, [Post(context_of(inst.facts.tolist(), task.sample_question(rng, inst, 1), []), 1)]
        )
    client = TestClient(make_app(url))
    bob = {"Authorization": f"Bearer {tokens['bob']}"}
    ada = {"Authorization": f"Bearer {tokens['ada']}"}
    held = client.post("/api/claim", headers=bob).json()
    path = f"/api/tasks/{held['assignment']}/submit"
    question = held["context"]["question"]
    rows = []

    def attempt(what: str, send) -> None:
        before = snapshot(engine)
        response = send()
        body = response.text
        try:
            said = response.json().get("error") or json.dumps(response.json())
        except ValueError:  # a page: its message
            found = re.search(r'id="message">([^<]*)<', body)
            said = html.unescape(found.group(1)) if found else body[:120]
        rows.append(
            {"input": what, "status": response.status_code, "answer": said[:140],
             "database unchanged": snapshot(engine) == before}
        )  # fmt: skip

    def submit(move, fence=None, headers=bob, to=path):
        fence = held["fence"] if fence is None else fence
        return client.post(to, headers=headers, json={"fence": fence, "move": move})

    attempt("an empty answer", lambda: submit({"answer": ""}))
    attempt("a 1 MB answer", lambda: submit({"answer": "9" * 2**20}))
    attempt(
        "an answer that is not UTF-8",
        lambda: client.post(path, headers=bob, content=b'{"fence": 1, "move": {"answer": "\xff"}}'),
    )
    attempt("a fan-out with 0 subquestions", lambda: submit({"ask": []}))
    attempt("a fan-out with 3 subquestions", lambda: submit({"ask": [question] * 3}))
    attempt("a subquestion the task cannot parse", lambda: submit({"ask": [[1, 999]]}))
    attempt("script as a subquestion", lambda: submit({"ask": [SCRIPT]}))
    attempt(
        "a submit without holding the task (another person)",
        lambda: submit({"answer": 0}, headers=ada),
    )
    attempt(
        "a submit with a stale fencing token",
        lambda: submit({"answer": 0}, fence=held["fence"] - 1),
    )
    attempt("no token", lambda: client.post("/api/claim"))
    attempt(
        "a wrong token", lambda: client.post("/api/claim", headers={"Authorization": "Bearer x"})
    )
    first = submit({"answer": 0})
    rows.append({"input": "the first submission", "status": first.status_code,
                 "answer": first.text, "database unchanged": False})  # fmt: skip
    attempt("the same submission again (a retry)", lambda: submit({"answer": 0}))
    attempt("a different second submission", lambda: submit({"answer": 1}))
    # the pages: a form without its CSRF token; script in names shown as text
    page = TestClient(make_app(url))
    login = page.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
    page.post("/login", data={"token": tokens["ada"], "csrf": csrf}, follow_redirects=False)
    attempt(
        "a form without its CSRF token", lambda: page.post("/work/submit", data={"answer": "0"})
    )
    admin = page.get("/admin").text
    escaped = SCRIPT not in admin and "&lt;script&gt;" in admin
    rows.append({"input": "script in a person's and a run's name, on /admin", "status": 200,
                 "answer": "shown as text" if escaped else "NOT ESCAPED",
                 "database unchanged": True})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| bad input | status | the answer | database unchanged |")
    print("|---|---|---|---|")
    for row in rows:
        answer = row["answer"].replace("|", "\\|")
        print(f"| {row['input']} | {row['status']} | {answer} | {row['database unchanged']} |")
    sys.exit(0 if escaped else 1)


if __name__ == "__main__":
    main()
