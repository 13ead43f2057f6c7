"""The text domain at the workbench: what a person sees of a step, the moves they type read
back from the form and checked against the domain's question forms, and the work page over
HTTP on a real SQLite database."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi")

from ida.domains.text.data import sample_query  # noqa: E402
from ida.domains.text.kb import PERSON, TRAIN, sample_world, tell  # noqa: E402
from ida.domains.text.protocol import check_move, make_step  # noqa: E402
from ida.domains.text.questions import Query, render  # noqa: E402
from ida.domains.text.script import ScriptedH  # noqa: E402
from ida.domains.text.workbench import TextBench, bench  # noqa: E402
from ida.overseers.human.people import add_person  # noqa: E402
from ida.overseers.human.protocol import Post, QueueError  # noqa: E402
from ida.overseers.human.statements import ANSWERS, S  # noqa: E402
from ida.overseers.human.testing import CHROMIUM  # noqa: E402
from ida.overseers.human.web import make_app  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def a_step(hops: int = 2, seed: int = 0, answered=(), last=False):
    """A step of a fresh world of 4 people, its question ``hops`` long; (step, world, query)."""
    rng = np.random.default_rng(seed)
    world = sample_world(rng, 4)
    name = world.entities[PERSON][0]
    relations = ("employer", "headquarters", "country")[:hops]
    query = Query(name, relations)
    step = make_step(tell(world, rng, TRAIN), render(query, TRAIN, rng), list(answered), last)
    return step, world, query


def test_the_view_shows_the_sentences_question_and_answers_so_far():
    step, _, _ = a_step(answered=[["Who employs Ada Brook?", "Lumen Ltd"]])
    view = bench("text_kb", 4).view(step)
    assert view["facts"] == step["facts"] and view["question"] == step["question"]
    assert view["answered"] == [{"question": "Who employs Ada Brook?", "answer": "Lumen Ltd"}]
    assert view["free_text"] and not view["last"]
    assert "Who employs …?" in view["examples"] and "the employer of …" in view["examples"]
    assert "free_text" not in bench("text_kb", 4).view(step, static=False)


def test_the_scripted_readers_moves_pass_and_come_back_stripped():
    step, world, query = a_step()
    text = TextBench()
    move = ScriptedH().move(step)
    assert text.parse_move(step, move) == move
    assert text.parse_move(step, {"answer": "  Lumen Ltd \t"}) == {"answer": "Lumen Ltd"}
    spaced = {"ask": ["  " + move["ask"][0].replace(" ", "   ")]}
    assert text.parse_move(step, spaced) == move


@pytest.mark.parametrize(
    "payload, says",
    [
        ({"answer": ""}, "empty"),
        ({"answer": "x" * 1_000_000}, "one line"),
        ({"answer": "Lumen\nLtd"}, "one line"),
        ({"answer": 3}, "empty"),
        ({"ask": []}, "one or two"),
        ({"ask": ["Who employs Ada Brook?"] * 3}, "one or two"),
        ({"ask": ["What is the meaning of life?"]}, "not a question of this domain"),
        ({"ask": ["x" * 400]}, "over 300"),
        ({"ask": ["Who employs Zed Nobody?"]}, "Zed Nobody"),
        ({"answer": "a", "ask": ["b"]}, "a move is"),
        ("answer", "a move is"),
        (None, "a move is"),
    ],
)
def test_a_move_the_domain_cannot_take_is_refused_saying_why(payload, says):
    step, _, _ = a_step()
    with pytest.raises(QueueError, match=re.escape(says)) as err:
        TextBench().parse_move(step, payload)
    assert err.value.status == 422


def test_a_subquestion_must_be_easier_and_the_last_turn_must_answer():
    step, world, query = a_step(hops=1)
    same = {"ask": [step["question"]]}
    with pytest.raises(QueueError, match="not easier"):
        TextBench().parse_move(step, same)
    last, _, _ = a_step(hops=2, last=True)
    with pytest.raises(QueueError, match="last turn"):
        TextBench().parse_move(last, ScriptedH().move({**last, "last": False}))


def test_the_page_takes_every_move_the_domains_judge_takes():
    """Whatever ``check_move`` lets the scripted reader do, even on wrong subanswers (a
    repeated subquestion, say), a person may type: the page is never stricter than the run."""
    rng = np.random.default_rng(1)
    text, taken = TextBench(), 0
    for _ in range(60):
        world = sample_world(rng, 4)
        query = sample_query(world, int(rng.integers(1, 4)), rng)
        step = make_step(tell(world, rng, TRAIN), render(query, TRAIN, rng), [], False)
        names = [name for kind in world.entities.values() for name in kind]
        for _turn in range(3):
            move = ScriptedH().move(step)
            if move is None or check_move(step, move) is not None:
                break
            assert text.parse_move(step, move) == move
            taken += 1
            if "answer" in move:
                break
            wrong = names[int(rng.integers(len(names)))]  # a subanswer, often wrong
            step = {**step, "answered": step["answered"] + [[move["ask"][0], wrong]]}
    assert taken > 60


def test_asking_again_what_a_wrong_subanswer_leads_back_to_is_taken():
    """A's wrong subanswer can send the reader back to a subquestion it asked already ("the
    best friend of the best friend of Ada" when A says Ada is her own best friend): the domain
    takes the repeat, so the page must too, or the person could never move on."""
    rng = np.random.default_rng(0)
    world = sample_world(rng, 4)
    name = world.entities[PERSON][0]
    question = render(Query(name, ("friend", "friend")), TRAIN, rng)
    step = make_step(tell(world, rng, TRAIN), question, [], False)
    again = ScriptedH().move({**step, "answered": [["(asked first)", name]]})["ask"][0]
    step["answered"] = [[again, name]]
    move = ScriptedH().move(step)
    assert move == {"ask": [again]} and check_move(step, move) is None
    assert TextBench().parse_move(step, move) == move


def test_the_form_is_read_as_typed_moves():
    text = TextBench()
    assert text.form_move({"kind": "answer", "answer": " Oslo "}) == {"answer": " Oslo "}
    fields = {"kind": "ask", "q1_text": " Who employs Ada Brook? ", "q2_text": "  "}
    assert text.form_move(fields) == {"ask": ["Who employs Ada Brook?"]}
    with pytest.raises(QueueError, match="choose a move"):
        text.form_move({"kind": "combine"})


@pytest.fixture
def site(tmp_path):
    """The workbench app on a fresh SQLite database with a text run; (client, queue, run)."""
    app = make_app(f"sqlite:///{tmp_path / 'w.db'}", lease=60.0)
    queue = app.state.wb.queue
    token = add_person(queue.engine, "bob")
    run = queue.run_id("runs/text", "text_kb", 4)
    client = TestClient(app)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"csrf": csrf, "token": token}).status_code == 200
    return client, queue, run


def form_of(page: str) -> dict[str, str]:
    """The hidden fields of a work page's forms."""
    return dict(re.findall(r'name="(csrf|assignment|fence)" value="([^"]+)"', page))


def test_a_person_reads_the_step_and_types_a_subquestion_then_the_answer(site):
    client, queue, run = site
    step, world, query = a_step(hops=2)
    step["facts"][0] += " <script>alert(1)</script>"  # shown, never run
    (key,) = queue.post(run, [Post(step, level=1)])
    page = client.get("/work").text
    assert 'id="q1_text"' in page and 'id="answer"' in page and 'type="text"' in page
    assert step["question"] in page.replace("&#39;", "'")
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    fields = form_of(page)
    sub = ScriptedH().move(step)["ask"][0]
    done = client.post("/work/submit", data={**fields, "kind": "ask", "q1_text": sub})
    assert done.status_code == 200 and "Nothing is queued" in done.text
    assert queue.moves([key])[key][0] == {"ask": [sub]}

    middle = world.follow(query.entity, query.relations[:1])
    combine = {**step, "answered": [[sub, middle]]}
    (key,) = queue.post(run, [Post(combine, level=1)])
    page = client.get("/work").text
    assert sub.replace("'", "&#39;") in page and middle in page and "Combine" in page
    truth = world.follow(query.entity, query.relations)
    client.post("/work/submit", data={**form_of(page), "kind": "answer", "answer": truth})
    assert queue.moves([key])[key][0] == {"answer": truth}


def test_a_bad_typed_move_is_a_clear_error_and_changes_nothing(site):
    client, queue, run = site
    step, _, _ = a_step(hops=2)
    (key,) = queue.post(run, [Post(step, level=1)])
    fields = form_of(client.get("/work").text)
    for data in (
        {"kind": "ask", "q1_text": "Who employs Zed Nobody?"},
        {"kind": "ask", "q1_text": step["question"]},
        {"kind": "answer", "answer": ""},
    ):
        refused = client.post("/work/submit", data={**fields, **data})
        assert refused.status_code == 422
    with queue.engine.connect() as conn:
        assert conn.execute(ANSWERS.select()).first() is None
        assert conn.execute(S.select().where(S.c.key == key)).one().move is None


@pytest.fixture
def served(tmp_path):
    """``ida workbench serve`` on a fresh SQLite database with a text run: (base URL, queue,
    run, bob's token)."""
    from ida.overseers.human.db import open_database
    from ida.overseers.human.queue import StepQueue
    from ida.overseers.human.testing import free_port, start_server, stop_server

    url = f"sqlite:///{tmp_path / 'w.db'}"
    queue = StepQueue(open_database(url))
    token = add_person(queue.engine, "bob")
    run = queue.run_id("runs/text", "text_kb", 4)
    port = free_port()
    server = start_server(url, port)
    yield f"http://127.0.0.1:{port}", queue, run, token
    stop_server(server)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Chromium at {CHROMIUM}")
def test_in_a_browser_a_person_asks_reads_the_answer_and_combines(served, page):
    base, queue, run, token = served
    step, world, query = a_step(hops=2, seed=3)
    (key,) = queue.post(run, [Post(step, level=1)])
    page.goto(base + "/work")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/work")
    assert page.inner_text("#question") == step["question"]
    assert page.locator("#facts li").count() == len(step["facts"])
    assert page.locator("#forms li").count() == 12  # a question and a phrase per relation

    page.fill("#q1_text", "Who employs Zed Nobody?")  # refused, saying why, nothing kept
    page.click("#ask-submit")
    assert "Zed Nobody" in page.inner_text("body")
    assert queue.moves([key]) == {}

    page.goto(base + "/work")
    page.keyboard.press("s")  # the shortcut goes to the first subquestion
    assert page.evaluate("document.activeElement.id") == "q1_text"
    sub = ScriptedH().move(step)["ask"][0]
    page.keyboard.type(sub)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing is queued")
    assert queue.moves([key])[key][0] == {"ask": [sub]}

    middle = world.follow(query.entity, query.relations[:1])
    (key,) = queue.post(run, [Post({**step, "answered": [[sub, middle]]}, level=1)])
    page.goto(base + "/work")
    assert sub in page.inner_text("#answered") and middle in page.inner_text("#answered")
    truth = world.follow(query.entity, query.relations)
    page.fill("#answer", truth)
    page.click("#combine-submit")
    page.wait_for_selector("text=Nothing is queued")
    assert queue.moves([key])[key][0] == {"answer": truth}
