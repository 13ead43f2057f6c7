"""The text domain with a language model behind an endpoint as H (``--overseer llm``) and as A
for subquestions, against a stand-in server that plays the scripted H: the run trains through
the real HTTP client, counts the model's requests and tokens, and a rerun costs no call."""

import json

import numpy as np
import pytest

from ida.domains.text.config import configure
from ida.domains.text.job import TextJob
from ida.domains.text.kb import TRAIN, read_facts, sample_world, tell
from ida.domains.text.llm import example_paths, path_of
from ida.domains.text.questions import parse_question
from ida.domains.text.script import ScriptedH
from ida.overseers.llm.prompts import ANSWERER_SYSTEM, render_step
from ida.overseers.llm.testing import moves_by, read_step, serve
from ida.testing import one_line_error, run_ida

TINY = [
    "--steps", "3", "--size", "4", "--device", "cpu",
    "--set", "instances_per_round=2", "--set", "questions_per_instance=4",
    "--set", "batch_instances=2", "--set", "eval_per_level=8", "--set", "eval_every=3",
]  # fmt: skip


def test_a_step_reads_back_from_its_prompt():
    world_rng = np.random.default_rng(0)
    world = sample_world(world_rng, 5)
    facts = tell(world, world_rng, TRAIN)
    step = {"facts": facts, "question": "Who employs Ada?", "answered": [["a -> b", "c"]]}
    for last in (False, True):
        assert read_step(render_step({**step, "last": last})) == {**step, "last": last}


def test_the_examples_are_the_scripted_h_walking_one_and_two_hop_questions():
    one, two = example_paths(5)
    assert len(one) == 1 and "answer" in one[0][1]
    assert [next(iter(move)) for _, move in two] == ["ask", "ask", "answer"]


def test_a_path_ends_in_the_true_answer():
    rng = np.random.default_rng(3)
    world = sample_world(rng, 6)
    facts = tell(world, rng, TRAIN)
    from ida.domains.text.data import sample_query
    from ida.domains.text.questions import render

    query = sample_query(world, 3, rng)
    path = path_of(facts, render(query, TRAIN, rng), lambda q: world.follow(q.entity, q.relations))
    assert path[-1][1]["answer"] == world.follow(query.entity, query.relations)


@pytest.fixture
def scripted_server():
    with serve(moves_by(ScriptedH()), models=("stand-in",)) as server:
        yield server


def train(monkeypatch, capsys, run, server, *extra):
    return run_ida(
        monkeypatch, capsys, "train", "text_kb", "--out", run, "--overseer", "llm",
        "--endpoint", server.endpoint, "--model", "stand-in", *TINY, *extra,
    )  # fmt: skip


def test_a_run_with_a_language_model_as_h_counts_its_calls_and_reruns_from_the_cache(
    monkeypatch, capsys, tmp_path, scripted_server
):
    cache = ["--set", f"llm_cache={tmp_path / 'cache.sqlite'}"]
    code, _, err = train(monkeypatch, capsys, tmp_path / "a", scripted_server, *cache)
    assert code == 0, err
    calls = scripted_server.calls
    assert calls > 0
    record = json.loads((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["overseer_calls"] > 0 and record["overseer_failures"] == 0
    assert record["h_requests"] >= calls and record["h_prompt_tokens"] > 0  # a batch asks once
    code, _, err = train(monkeypatch, capsys, tmp_path / "b", scripted_server, *cache)
    assert code == 0, err
    assert scripted_server.calls == calls  # every reply from the cache
    again = json.loads((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()[-1])
    assert again["h_cache_hits"] == again["h_requests"] == record["h_requests"]


def test_replies_that_are_not_moves_are_counted_failures_and_the_run_goes_on(
    monkeypatch, capsys, tmp_path
):
    with serve(lambda messages, model, params: "Sure! Here is my answer.", ("stand-in",)) as bad:
        code, _, err = train(
            monkeypatch, capsys, tmp_path / "run", bad, "--set", f"llm_cache={tmp_path / 'c'}"
        )
    assert code == 0, err
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["overseer_failures"] == record["overseer_calls"] > 0
    assert record["h_invalid"] == 3 * record["overseer_calls"]  # three tries each


def exact_replies(messages, model, params):
    """The scripted H's move on a step; the exact answer, from the facts, to a question put to
    the answerer (A)."""
    if messages[0]["content"] != ANSWERER_SYSTEM:
        return moves_by(ScriptedH())(messages, model, params)
    step = read_step(messages[-1]["content"])
    known, query = read_facts(tuple(step["facts"])), parse_question(step["question"])
    found = query.entity
    for relation in query.relations:
        found = known[(found.lower(), relation)]
    return f"ANSWER: {found}"


def test_a_language_model_can_answer_the_subquestions_as_a(tmp_path):
    """H and A both behind an endpoint: with both exact there, every target is the truth."""
    with serve(exact_replies, ("stand-in",)) as server:
        settings = dict(
            overseer="llm", answerer="endpoint", endpoint=server.endpoint,
            llm_model="stand-in", llm_cache=str(tmp_path / "c"), size=5,
            instances_per_round=3, questions_per_instance=4, device="cpu",
        )  # fmt: skip
        job = TextJob(configure("text_kb", settings))
        job.curriculum.level = 3  # up to 4 hops
        work = job.amplifier.propose(np.random.default_rng(0))
        done = job.amplifier.expand(job.distiller.teacher, work)
    truth = [work.worlds[s].follow(q.entity, q.relations) for s, q, _ in work.roots]
    assert done.targets == truth
    assert done.counts["model_calls"] == done.counts["a_questions"] > 0
    assert done.counts["h_requests"] > 0 and done.counts["overseer_failures"] == 0


@pytest.mark.parametrize(
    "options, match",
    [
        (["--overseer", "llm"], "needs --endpoint URL and --model NAME"),
        (["--overseer", "llm", "--endpoint", "http://127.0.0.1:1/v1", "--model", "m"],
         "cannot reach http://127.0.0.1:1/v1"),
    ],
)  # fmt: skip
def test_bad_endpoints_are_one_line_errors(monkeypatch, capsys, tmp_path, options, match):
    code, _, err = run_ida(monkeypatch, capsys, "train", "text_kb", "--out", tmp_path, *options)
    one_line_error(code, err, match)


def test_a_model_the_server_does_not_have_is_one_line(
    monkeypatch, capsys, tmp_path, scripted_server
):
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "text_kb", "--out", tmp_path / "run", "--overseer", "llm",
        "--endpoint", scripted_server.endpoint, "--model", "no-such-model",
    )  # fmt: skip
    one_line_error(code, err, "no-such-model")
    assert not (tmp_path / "run" / "config.json").exists()
