"""The workbench in real headless Chromium (Playwright) against a real uvicorn server: sign in,
answer, fan out with the form selects, combine, the tree viewer, CSRF, escaping, heartbeats."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import insert, select

from ida.domains.qa.tasks.union_find import ROOT
from ida.overseers.human.people import add_person
from ida.overseers.human.schema import TreeNode
from ida.overseers.human.statements import SQ, A, S
from ida.overseers.human.testing import CHROMIUM

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"the browser tests need Chromium at {CHROMIUM}"
)


def sign_in(page, base, bench, who="bob"):
    page.goto(base + "/work")
    assert page.url.endswith("/login")
    page.fill("#token", bench.tokens[who])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/work")


def step_move(bench, key):
    with bench.engine.connect() as conn:
        return conn.execute(select(S.c.move).where(S.c.key == key)).scalar_one()


def test_answer_fan_out_fan_in_and_the_tree(server, page):
    bench, base = server
    key, context, inst = bench.post(level=0)
    sign_in(page, base, bench)
    question = bench.task.format_question(tuple(context["question"]))
    assert page.inner_text("#question") == question
    assert page.locator("#facts li").count() == 8
    assert "Keyboard" in page.inner_text("#help")
    truth = bench.task.solve(inst, tuple(context["question"]))
    page.keyboard.press("a")  # the shortcut focuses the answer
    assert page.evaluate("document.activeElement.id") == "answer"
    page.select_option("#answer", str(truth))
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing is queued")
    assert step_move(bench, key) == {"answer": truth}

    # fan out: ROOT(v) at depth 1 asks ROOT(parent), built with the form's selects
    key, context, inst = bench.post(level=1)
    page.goto(base + "/work")
    (sub,) = bench.task.fan_out(inst, tuple(context["question"]))
    page.select_option("#q1_form", label="root")
    assert page.is_hidden("#q1 .slots[data-form='0']")
    page.select_option("#q1_f1_s0", str(sub[1]))
    page.click("#ask-submit")
    page.wait_for_selector("text=Nothing is queued")
    assert step_move(bench, key) == {"ask": [[ROOT, sub[1]]]}
    with bench.engine.connect() as conn:
        assert conn.execute(select(SQ.c.question)).scalars().all() == [[ROOT, sub[1]]]

    # fan in: the subquestion answered, the person combines
    answer = bench.task.solve(inst, sub)
    bench.queue.answer_subquestions(key, [(answer, "model")])
    page.goto(base + "/work")
    assert bench.task.format_question(sub) in page.inner_text("#answered")
    combined = bench.task.fan_in(inst, tuple(context["question"]), ((sub, answer),))
    page.select_option("#answer", str(combined))
    page.click("#combine-submit")
    page.wait_for_selector("text=Nothing is queued")
    assert "You answered 3 today, 3 in all" in page.inner_text("#progress")
    with bench.engine.connect() as conn:
        moves = conn.execute(select(S.c.move).where(S.c.state == "done")).scalars().all()
    assert moves[-1] == {"answer": combined}

    # the tree viewer shows recorded trees
    with bench.engine.begin() as conn:
        conn.execute(
            insert(TreeNode.__table__),
            [
                dict(id=1, run_id=bench.run, tree=1, parent_id=None, round=0, facts=None,
                     question=list(context["question"]), answer=combined, truth=combined,
                     by="person", person_id=2, created=time.time()),
                dict(id=2, run_id=bench.run, tree=1, parent_id=1, round=0, facts=None,
                     question=list(sub), answer=(answer + 1) % 8, truth=answer, by="model",
                     person_id=None, created=time.time()),
            ],
        )  # fmt: skip
    page.goto(base + "/logout")
    page.click("button[type=submit]")
    sign_in(page, base, bench, who="ada")  # the tree viewer is the admins'
    page.goto(base + "/runs/uf/trees")
    tree = page.inner_text(".tree")
    asked = bench.task.format_question(tuple(context["question"]))
    assert asked in tree and bench.task.format_question(sub) in tree
    assert "[bob]" in tree and "[model]" in tree and "✓" in tree and "✗" in tree


def test_a_form_without_its_csrf_token_is_refused(server, page):
    bench, base = server
    bench.post(level=0)
    sign_in(page, base, bench)
    page.evaluate("document.querySelector('#answer-form input[name=csrf]').remove()")
    before = bench.counts()
    page.click("#answer-submit")
    page.wait_for_selector("#message")
    assert "security token" in page.inner_text("#message")
    assert bench.counts() == before


def test_script_in_names_is_shown_as_text(server, page):
    bench, base = server
    evil = "<script>window.pwned = 1</script>"
    add_person(bench.engine, evil)
    bench.queue.run_id("run" + evil, "union_find", 8)
    sign_in(page, base, bench, "ada")
    page.goto(base + "/admin")
    assert evil in page.inner_text("#runs")
    assert page.evaluate("window.pwned") is None


def test_the_page_keeps_its_lease(server, page):
    bench, base = server
    bench.post(level=0)
    sign_in(page, base, bench)
    page.wait_for_selector("#task")

    def lease_until():
        with bench.engine.connect() as conn:
            return conn.execute(select(A.c.lease_until)).scalar_one()

    first = lease_until()
    deadline = time.monotonic() + 8
    while lease_until() == first and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lease_until() > first
