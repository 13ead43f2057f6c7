"""The server-rendered pages through FastAPI's TestClient: sign-in, the work page and its
forms, CSRF refusals, escaping, the admin page and the tree viewer."""

from __future__ import annotations

import re
import time

from sqlalchemy import insert, select

from ida.domains.qa.tasks.union_find import ROOT, VALUE, VAR
from ida.overseers.human.people import add_person
from ida.overseers.human.schema import TreeNode
from ida.overseers.human.statements import ANSWERS, RUNS, S

NODES = TreeNode.__table__


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, bench, who="bob"):
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"token": bench.tokens[who], "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/work"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    return client


def fields(html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_redirects_and_sign_in(bench):
    client = bench.client()
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/work", follow_redirects=False).headers["location"] == "/login"
    page = client.get("/login")
    bad = client.post("/login", data={"token": "wrong", "csrf": csrf_of(page.text)})
    assert bad.status_code == 401 and "not known" in bad.text
    no_csrf = client.post("/login", data={"token": bench.tokens["bob"]})
    assert no_csrf.status_code == 403 and "security token" in no_csrf.text
    sign_in(client, bench)
    assert client.get("/", follow_redirects=False).headers["location"] == "/work"
    idle = client.get("/work")
    assert "Nothing is queued" in idle.text and 'http-equiv="refresh"' in idle.text
    out = client.post("/logout", data={"csrf": csrf_of(idle.text)}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    assert client.get("/work", follow_redirects=False).status_code == 303


def test_a_restart_keeps_people_signed_in(bench):
    from fastapi.testclient import TestClient

    from ida.overseers.human.web import make_app

    client = sign_in(bench.client(), bench)
    again = TestClient(make_app(bench.url))
    again.cookies = client.cookies
    assert "Nothing is queued" in again.get("/work").text


def test_work_page_answer_and_ask(bench):
    key, context, inst = bench.post(level=0, suggestion=2, suspicion=0.7)
    client = sign_in(bench.client(), bench)
    page = client.get("/work")
    assert page.status_code == 200
    for fact in context["facts"]:
        assert bench.task.format_fact(__import__("numpy").array(fact)) in page.text
    assert bench.task.format_question(tuple(context["question"])) in page.text
    assert "70%" in page.text and "The model suggests" in page.text
    assert 'name="q1_form"' in page.text and "<textarea" not in page.text
    assert "You answered <strong>0</strong> today" in page.text
    form = fields(page.text, "answer-form")
    before = bench.counts()
    # CSRF: missing or wrong -> 403 and nothing changes
    for token in (None, "forged"):
        data = {k: v for k, v in form.items() if k != "csrf"} | {"answer": "1"}
        if token:
            data["csrf"] = token
        refused = client.post("/work/submit", data=data)
        assert refused.status_code == 403 and "security token" in refused.text
    # a move the task cannot take -> 422 page, nothing changes
    bad = client.post("/work/submit", data=form | {"answer": "99"})
    assert bad.status_code == 422 and "out of range" in bad.text
    assert bench.counts() == before
    truth = bench.task.solve(inst, tuple(context["question"]))
    done = client.post("/work/submit", data=form | {"answer": str(truth)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/work"
    assert bench.queue.moves([key])[key][0] == {"answer": truth}

    # fan out: two subquestions from the forms' selects
    key, context, inst = bench.post(level=0)
    page = client.get("/work")
    assert "You answered <strong>1</strong> today, <strong>1</strong> in all" in page.text
    form = fields(page.text, "ask-form")
    data = form | {"q1_form": "1", "q1_f1_s0": str(VAR + 3), "q2_form": "0", "q2_f0_s0": str(VAR)}
    assert client.post("/work/submit", data=data, follow_redirects=False).status_code == 303
    assert bench.queue.moves([key])[key][0] == {"ask": [[ROOT, VAR + 3], [VALUE, VAR]]}


def test_heartbeat_from_the_page(bench):
    bench.post(level=0)
    client = sign_in(bench.client(), bench)
    page = client.get("/work")
    form = fields(page.text, "answer-form")
    beat = client.post(
        "/work/heartbeat",
        data={k: form[k] for k in ("csrf", "assignment", "fence")},
        headers={"X-Requested-With": "fetch"},
    )
    assert beat.status_code == 200 and beat.json()["lease_until"] > time.time()
    forged = client.post(
        "/work/heartbeat",
        data={"csrf": "x", "assignment": form["assignment"], "fence": form["fence"]},
        headers={"X-Requested-With": "fetch"},
    )
    assert forged.status_code == 403 and "security token" in forged.json()["error"]


def test_admin_page_escapes_and_refuses_annotators(bench):
    add_person(bench.engine, "<script>alert(1)</script>")
    evil = bench.queue.run_id("<b>run</b>", "union_find", 8, overlap=2)
    bench.post(level=0)
    client = sign_in(bench.client(), bench, "ada")
    bench.client()
    held = client.post("/api/claim", headers=bench.headers("bob")).json()
    client.post(
        f"/api/tasks/{held['assignment']}/submit",
        headers=bench.headers("bob"),
        json={"fence": held["fence"], "move": {"answer": 1}},
    )
    page = client.get("/admin")
    assert page.status_code == 200
    assert "&lt;b&gt;run&lt;/b&gt;" in page.text and "<b>run</b>" not in page.text
    assert "Queue depth by level" in page.text and "Leases in flight" in page.text
    assert ">bob<" in page.text  # answers per hour
    assert evil
    annotator = sign_in(bench.client(), bench, "bob")
    assert annotator.get("/admin").status_code == 403


def test_tree_viewer(bench):
    now = time.time()
    with bench.engine.begin() as conn:
        run = conn.execute(select(RUNS.c.id).where(RUNS.c.name == "uf")).scalar_one()
        facts = [[4, VAR, VAR + 8 + 3]] + [[0, 0, 0]] * 7
        conn.execute(
            insert(NODES),
            [
                dict(id=1, run_id=run, tree=1, parent_id=None, round=0, facts=facts,
                     question=[VALUE, VAR + 1], answer=3, truth=3, by="person", person_id=1,
                     created=now),
                dict(id=2, run_id=run, tree=1, parent_id=1, round=0, facts=None,
                     question=[ROOT, VAR + 1], answer=0, truth=2, by="model", person_id=None,
                     created=now),
            ],
        )  # fmt: skip
    assert sign_in(bench.client(), bench).get("/runs/uf/trees").status_code == 403  # admins'
    client = sign_in(bench.client(), bench, who="ada")
    page = client.get("/runs/uf/trees")
    assert page.status_code == 200
    assert "value(x1)" in page.text and "root(x1)" in page.text
    assert "[ada]" in page.text and "[model]" in page.text
    assert "✓" in page.text and "✗ (true 2)" in page.text
    assert "x0 := 3" in page.text
    assert client.get("/runs/nope/trees").status_code == 404
    model = client.get("/runs/uf/model")
    assert model.status_code == 200 and "no directory" in model.text
    bench.queue.run_id("gone", "union_find", 8, directory="/nonexistent/run")
    model = client.get("/runs/gone/model")
    assert model.status_code == 200 and "cannot show the model" in model.text


def test_form_body_over_64k_is_413(bench):
    client = sign_in(bench.client(), bench)
    response = client.post("/work/submit", data={"csrf": "x" * 70_000})
    assert response.status_code == 413
    with bench.engine.connect() as conn:
        assert conn.execute(select(ANSWERS.c.id)).first() is None
        assert conn.execute(select(S.c.id)).first() is None


def test_the_models_own_tree_of_a_trained_run(bench, tmp_path):
    from ida.core.registry import domain_of
    from ida.core.runs.run import train

    settings = dict(
        task="union_find", size=8, steps=2, eval_every=2, instances_per_round=8,
        questions_per_instance=8, batch_instances=8, eval_per_level=8, curriculum_samples=8,
        model={"d_model": 32, "n_heads": 2, "enc_layers": 1, "dec_layers": 1}, device="cpu",
    )  # fmt: skip
    train(domain_of("union_find").configure("union_find", settings), tmp_path / "run")
    bench.queue.run_id("trained", "union_find", 8, directory=str(tmp_path / "run"))
    client = sign_in(bench.client(), bench, who="ada")
    page = client.get("/runs/trained/model?seed=1")
    assert page.status_code == 200 and "cannot show" not in page.text
    assert "<h2>ida show</h2>" in page.text and "<h2>ida audit</h2>" in page.text
    assert "overseer calls" in page.text and "first wrong node" in page.text
    assert "<script" not in page.text


def test_non_ascii_security_tokens_are_refused_not_errors(bench):
    bench.post(level=0)
    client = bench.client()
    client.get("/login")  # the login form's nonce cookie
    login = client.post("/login", data={"token": bench.tokens["bob"], "csrf": "é"})
    assert login.status_code == 403 and "security token" in login.text
    sign_in(client, bench)
    form = fields(client.get("/work").text, "answer-form")
    before = bench.counts()
    refused = client.post("/work/submit", data=form | {"csrf": "é", "answer": "1"})
    assert refused.status_code == 403 and "security token" in refused.text
    assert bench.counts() == before
    for cookie in ("é", "1.abc.123.é", f"{client.cookies['ida_session']}é"):
        stranger = bench.client()  # the cookie as raw bytes: httpx sends only ASCII str headers
        header = {"cookie": f"ida_session={cookie}".encode()}
        work = stranger.get("/work", headers=header, follow_redirects=False)
        assert work.status_code == 303 and work.headers["location"] == "/login"
        post = stranger.post("/work/submit", headers=header, data={"csrf": "x"})
        assert post.status_code == 401


def test_the_tree_viewer_of_a_run_named_with_a_slash(bench):
    run = bench.queue.run_id("runs/uf-people", "union_find", 8)
    facts = [[4, VAR, VAR + 8 + 3]] + [[0, 0, 0]] * 7
    node = dict(parent=None, question=[VALUE, VAR + 1], answer=3, truth=3, by="person",
                person="bob", facts=facts)  # fmt: skip
    bench.queue.record_trees(run, 0, [[node]])
    annotator = sign_in(bench.client(), bench, "bob")
    for page in ("trees", "model"):
        assert annotator.get(f"/runs/runs/uf-people/{page}").status_code == 403
    client = sign_in(bench.client(), bench, "ada")
    page = client.get("/runs/runs/uf-people/trees")
    assert page.status_code == 200
    assert "value(x1)" in page.text and "[bob]" in page.text and "x0 := 3" in page.text
    assert "value(x1)" not in client.get("/runs/uf/trees").text  # the other run's trees
    model = client.get("/runs/runs/uf-people/model")
    assert model.status_code == 200 and "no directory" in model.text


def test_cookies_are_secure_over_https(bench):
    from fastapi.testclient import TestClient

    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        client = TestClient(bench.app, base_url=base)
        page = client.get("/login")
        assert ("secure" in page.headers["set-cookie"].lower()) is secure
        response = client.post(
            "/login",
            data={"token": bench.tokens["bob"], "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert ("secure" in response.headers["set-cookie"].lower()) is secure
