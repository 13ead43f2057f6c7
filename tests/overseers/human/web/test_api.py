"""The JSON API on a real SQLite database through FastAPI's TestClient: claim, heartbeat,
submit (answer, fan-out, fan-in), export; every refused request's status and one-line error,
and that it changes nothing."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from ida.domains.qa.tasks.union_find import ROOT, VALUE, VAR
from ida.overseers.human.statements import SQ, S


def claim(client, bench, who="bob") -> dict:
    response = client.post("/api/claim", headers=bench.headers(who))
    assert response.status_code == 200, response.text
    return response.json()


def submit(client, bench, held, move, who="bob", fence=None):
    body = {"fence": held["fence"] if fence is None else fence, "move": move}
    return client.post(
        f"/api/tasks/{held['assignment']}/submit", headers=bench.headers(who), json=body
    )


def heartbeat(client, bench, held, who="bob", fence=None):
    body = {"fence": held["fence"] if fence is None else fence}
    return client.post(
        f"/api/tasks/{held['assignment']}/heartbeat", headers=bench.headers(who), json=body
    )


def refused(response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error, str) and error and "\n" not in error and "Traceback" not in error
    return error


def test_health_needs_no_token(bench):
    assert bench.client().get("/api/health").json() == {"ok": True}


def test_claim_answer_and_export(bench):
    key, context, inst = bench.post(level=0, suggestion=3, suspicion=0.25)
    client = bench.client()
    held = claim(client, bench)
    assert (held["run"], held["task"], held["size"], held["level"]) == ("uf", "union_find", 8, 0)
    assert held["context"] == context and held["suggestion"] == 3 and held["suspicion"] == 0.25
    assert held["view"]["question"] == bench.task.format_question(tuple(context["question"]))
    assert len(held["view"]["facts"]) == 8 and held["view"]["answered"] == []
    assert claim(client, bench)["assignment"] == held["assignment"]  # a second tab: the same
    assert client.post("/api/claim", headers=bench.headers("ada")).status_code == 204

    beat = heartbeat(client, bench, held)
    assert beat.status_code == 200 and beat.json()["lease_until"] >= held["lease_until"]

    truth = bench.task.solve(inst, tuple(context["question"]))
    response = submit(client, bench, held, {"answer": truth})
    assert response.json() == {"accepted": True, "repeat": False}
    assert bench.queue.moves([key])[key] == ({"answer": truth}, "bob")
    assert client.post("/api/claim", headers=bench.headers("bob")).status_code == 204

    export = client.get("/api/export", headers=bench.headers("ada"))
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    (line,) = export.text.splitlines()
    record = json.loads(line)
    assert record["move"] == {"answer": truth} and record["person"] == "bob"
    assert record["question"] == context["question"] and record["run"] == "uf"
    assert client.get("/api/export?run=uf", headers=bench.headers("ada")).text == export.text
    refused(client.get("/api/export?run=nope", headers=bench.headers("ada")), 404)
    refused(client.get("/api/export", headers=bench.headers("bob")), 403)


def test_fan_out_then_fan_in(bench):
    key, context, inst = bench.post(level=1)  # ROOT(v), v at depth 1: ask ROOT(parent)
    question = tuple(context["question"])
    client = bench.client()
    held = claim(client, bench)
    (sub,) = bench.task.fan_out(inst, question)
    response = submit(client, bench, held, {"ask": [list(sub)]})
    assert response.json() == {"accepted": True, "repeat": False}
    with bench.engine.connect() as conn:
        assert conn.execute(select(SQ.c.question, SQ.c.answer)).all() == [(list(sub), None)]
    assert client.post("/api/claim", headers=bench.headers("bob")).status_code == 204

    answer = bench.task.solve(inst, sub)
    bench.queue.answer_subquestions(key, [(answer, "model")])
    held = claim(client, bench)
    assert held["context"]["answered"] == [[list(sub), answer]]
    assert held["view"]["answered"] == [
        {"question": bench.task.format_question(sub), "answer": bench.task.format_answer(answer)}
    ]
    combined = bench.task.fan_in(inst, question, ((sub, answer),))
    assert submit(client, bench, held, {"answer": combined}).json()["accepted"] is True
    with bench.engine.connect() as conn:
        done = conn.execute(select(S.c.move).where(S.c.state == "done")).scalars().all()
    assert done == [{"ask": [list(sub)]}, {"answer": combined}]


def test_two_subquestions_accepted(bench):
    bench.post(level=0)
    client = bench.client()
    held = claim(client, bench)
    move = {"ask": [[VALUE, VAR + 1], [ROOT, VAR + 2]]}
    assert submit(client, bench, held, move).json() == {"accepted": True, "repeat": False}


BAD_MOVES = [
    ({}, "a move is"),
    ({"answer": None}, "integer"),
    ({"answer": ""}, "integer"),
    ({"answer": "3"}, "integer"),
    ({"answer": True}, "integer"),
    ({"answer": 8}, "out of range"),
    ({"answer": -1}, "out of range"),
    ({"answer": 1, "ask": [[1, 5]]}, "a move is"),
    ({"ask": []}, "not 0"),
    ({"ask": [[1, 5], [1, 6], [1, 7]]}, "not 3"),
    ({"ask": "value x0"}, "one or two"),
    ({"ask": [[1, 99]]}, "fits none"),
    ({"ask": [[9, 5]]}, "fits none"),
    ({"ask": [[1]]}, "1 tokens"),
    ({"ask": [[1, 5.0]]}, "non-integer"),
    ({"ask": [7]}, "list of tokens"),
    ([3], "a move is"),
]


@pytest.mark.parametrize("move, says", BAD_MOVES)
def test_a_move_the_task_cannot_take_is_422(bench, move, says):
    bench.post(level=0)
    client = bench.client()
    held = claim(client, bench)
    before = bench.counts()
    assert says in refused(submit(client, bench, held, move), 422)
    assert bench.counts() == before
    assert submit(client, bench, held, {"answer": 0}).json()["accepted"] is True  # still held


def raw(client, bench, path, content, headers=None, who="bob"):
    return client.post(path, headers={**bench.headers(who), **(headers or {})}, content=content)


def test_refused_requests_change_nothing(bench):
    bench.post(level=0)
    client = bench.client()
    held = claim(client, bench)
    path = f"/api/tasks/{held['assignment']}/submit"
    good = json.dumps({"fence": held["fence"], "move": {"answer": 1}}).encode()
    before = bench.counts()
    cases = [
        (client.post(path, content=good), 401),
        (client.post(path, content=good, headers={"Authorization": "Bearer nope"}), 401),
        (client.post(path, content=good, headers={"Authorization": "Basic abc"}), 401),
        (client.post("/api/claim"), 401),
        (client.get("/api/export"), 401),
        (raw(client, bench, path, b"\xff\xfe{}"), 400),
        (raw(client, bench, path, b"{not json"), 400),
        (raw(client, bench, path, b'{"fence": 1, "move": {"answer": "' + b"9" * 2**20), 413),
        (raw(client, bench, path, iter([b"[" + b"1," * 40_000, b"1]"])), 413),  # chunked
        (raw(client, bench, path, b'{"move": {"answer": 1}}'), 422),
        (raw(client, bench, path, b'{"fence": "1", "move": {"answer": 1}}'), 422),
        (raw(client, bench, path, json.dumps({"fence": held["fence"]}).encode()), 422),
        (raw(client, bench, path, b"[1, 2]"), 422),
        (raw(client, bench, path, b""), 422),
        (raw(client, bench, "/api/tasks/999/submit", good), 404),
        (raw(client, bench, "/api/tasks/abc/submit", good), 404),
        (raw(client, bench, "/api/tasks/99999999999999999999999/submit", good), 404),
        (raw(client, bench, "/api/tasks/999/heartbeat", good), 404),
        (raw(client, bench, path, good, who="ada"), 409),  # not the holder
    ]
    for response, status in cases:
        refused(response, status)
    assert bench.counts() == before
    # cookies are not accepted on the API
    cookie_client = bench.client()
    cookie_client.cookies.set("ida_session", "1.x.1.sig")
    refused(cookie_client.post(path, content=good), 401)
    assert bench.counts() == before


def test_stale_fence_repeat_and_different_second_submission(bench):
    bench.post(level=0)
    client = bench.client()
    held = claim(client, bench)
    before = bench.counts()
    assert "stale" in refused(
        submit(client, bench, held, {"answer": 1}, fence=held["fence"] + 1), 409
    )
    refused(heartbeat(client, bench, held, fence=held["fence"] + 1), 409)
    assert bench.counts() == before
    assert submit(client, bench, held, {"answer": 1}).json() == {"accepted": True, "repeat": False}
    after = bench.counts()
    assert submit(client, bench, held, {"answer": 1}).json() == {"accepted": True, "repeat": True}
    assert "already" in refused(submit(client, bench, held, {"answer": 2}), 409)
    refused(submit(client, bench, held, {"answer": 1}, who="ada"), 409)
    assert bench.counts() == after


def test_an_expired_lease_is_refused(make):
    bench = make(lease=0.3)
    bench.post(level=0)
    client = bench.client()
    held = claim(client, bench)
    time.sleep(0.4)
    other = claim(client, bench, who="ada")  # reaps the lease and takes the task
    assert other["assignment"] == held["assignment"] and other["fence"] == held["fence"] + 1
    before = bench.counts()
    refused(submit(client, bench, held, {"answer": 1}), 409)
    assert bench.counts() == before
    assert submit(client, bench, other, {"answer": 1}, who="ada").json()["accepted"] is True


def test_export_streams_many_lines(bench):
    client = bench.client()
    for _ in range(30):
        bench.post(level=0)
        held = claim(client, bench)
        assert submit(client, bench, held, {"answer": 0}).json()["accepted"] is True
    with client.stream("GET", "/api/export", headers=bench.headers("ada")) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert len(lines) == 30 and {line["person"] for line in lines} == {"bob"}


def test_the_api_on_postgresql(postgres_url):
    """The hot requests on PostgreSQL: the queue's own asynchronous connections in the app's
    event loop (closed with it), the same answers and refusals as on SQLite."""
    from fastapi.testclient import TestClient

    from ida.overseers.human.people import add_person
    from ida.overseers.human.web import make_app

    from .conftest import SIZE, TASK, Bench, get_task

    app = make_app(postgres_url)
    queue = app.state.wb.queue
    tokens = {"ada": add_person(queue.engine, "ada"), "bob": add_person(queue.engine, "bob")}
    bench = Bench(
        postgres_url, app, queue, get_task(TASK, SIZE), tokens, queue.run_id("uf", TASK, SIZE)
    )
    try:
        key, context, inst = bench.post(level=0)
        with TestClient(app) as client:
            held = claim(client, bench)
            assert held["context"] == context and claim(client, bench) == held
            assert client.post("/api/claim", headers=bench.headers("ada")).status_code == 204
            beat = heartbeat(client, bench, held)
            assert beat.status_code == 200 and beat.json()["lease_until"] >= held["lease_until"]
            before = bench.counts()
            assert "stale" in refused(
                submit(client, bench, held, {"answer": 1}, fence=held["fence"] + 1), 409
            )
            refused(submit(client, bench, held, {"answer": 1}, who="ada"), 409)
            refused(raw(client, bench, "/api/tasks/999/submit", b'{"fence": 1, "move": {}}'), 404)
            assert bench.counts() == before
            truth = bench.task.solve(inst, tuple(context["question"]))
            ok = {"accepted": True, "repeat": False}
            assert submit(client, bench, held, {"answer": truth}).json() == ok
            assert submit(client, bench, held, {"answer": truth}).json()["repeat"] is True
            assert "already" in refused(submit(client, bench, held, {"answer": 0}), 409)
        assert bench.queue.moves([key])[key] == ({"answer": truth}, "bob")
    finally:
        queue.engine.dispose()
