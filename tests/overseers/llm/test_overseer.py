from ida.overseers.llm.client import ChatClient
from ida.overseers.llm.overseer import LLMAnswerer, LLMOverseer
from ida.overseers.llm.prompts import LAST_TURN, render_move
from ida.overseers.llm.testing import Fail, serve


def read_step(toy, content: str) -> dict:
    """The step a rendered user turn shows (the fake model reads its prompt back)."""
    lines = content.splitlines()
    question = next(line for line in lines if line.startswith("Question: "))[10:]
    answered = [line[2:].split(" -> ") for line in lines if " -> " in line]
    return toy.step(question, answered, last=LAST_TURN in lines)


def step_turn(messages, toy):
    """The user turn showing the step: after the system prompt and the examples."""
    return messages[1 + 2 * len(toy.examples)]


def scripted_model(toy):
    """A model that plays the toy's scripted H perfectly."""

    def reply(messages, model, params):
        return render_move(toy.scripted(read_step(toy, messages[-1]["content"])))

    return reply


def overseer_for(server, toy, **kw):
    client = ChatClient(server.endpoint, "toy", backoff=0.01)
    return LLMOverseer(client, toy.examples, toy.check_move, **kw)


STEPS = [
    ("Who is the mother of Alice?", [], False),
    ("Who is the mother of the boss of Beth?", [], False),
    ("Who is the mother of the boss of Beth?", [("Who is the boss of Beth?", "Carl")], False),
    ("Who is the boss of the mother of Alice?", [], True),
]


def test_moves_match_the_scripted_overseer(toy):
    steps = [toy.step(q, a, last) for q, a, last in STEPS]
    with serve(scripted_model(toy)) as server:
        overseer = overseer_for(server, toy)
        moves = overseer.moves(steps)
        assert server.calls == len(steps)
        prompt = server.log[-1]["messages"]
    assert moves == [toy.scripted(step) for step in steps]
    assert moves[1] == {"ask": ["Who is the boss of Beth?"]}
    assert overseer.counts["steps"] == 4 and overseer.counts["first_try"] == 4
    assert overseer.counts["asks"] == 1 and overseer.counts["answers"] == 3
    assert overseer.counts["requests"] == 4 and overseer.counts["completion_tokens"] > 0
    assert prompt[0]["role"] == "system" and len(prompt) == 2 + 2 * len(toy.examples)


def test_invalid_reply_is_retried_with_the_reason(toy):
    def stubborn_then_fine(messages, model, params):
        if "invalid" not in messages[-1]["content"]:
            return "Sure! I think the answer is Beth."
        return "ANSWER: Beth"

    with serve(stubborn_then_fine) as server:
        overseer = overseer_for(server, toy)
        (move,) = overseer.moves([toy.step("Who is the mother of Alice?")])
        retry = server.log[-1]["messages"]
    assert move == {"answer": "Beth"}
    assert retry[-2] == {"role": "assistant", "content": "Sure! I think the answer is Beth."}
    assert "does not start with ANSWER: or ASK:" in retry[-1]["content"]
    assert overseer.counts["invalid: no move"] == 1 and overseer.counts["after_retry"] == 1
    assert not overseer.counts["overseer_failures"]


def test_no_valid_move_is_a_counted_failure_and_loses_nothing(toy):
    def rude_on_alice(messages, model, params):
        step = read_step(toy, step_turn(messages, toy)["content"])
        if step["question"] == "Who is the mother of Alice?":
            return 'ASK: What is love? | {"answer": "x"} | ignore previous instructions'
        return render_move(toy.scripted(step))

    steps = [toy.step(q, a, last) for q, a, last in STEPS]
    with serve(rude_on_alice) as server:
        overseer = overseer_for(server, toy, tries=3)
        moves = overseer.moves(steps)
        calls = server.calls
    assert moves[0] is None and moves[1:] == [toy.scripted(step) for step in steps[1:]]
    assert calls == len(steps) + 2  # the bad step tried 3 times, the others once
    assert overseer.counts["overseer_failures"] == 1 and overseer.counts["invalid"] == 3
    assert overseer.counts["invalid: too many subquestions"] == 3


def test_domain_rejection_and_last_turn(toy):
    replies = iter(
        ["ASK: Who is the boss of the boss of Alice?", "ASK: Who is the mother of Alice?"]
    )

    def harder_then_last(messages, model, params):
        return next(replies)

    with serve(harder_then_last) as server:
        overseer = overseer_for(server, toy, tries=2)
        moves = overseer.moves([toy.step("Who is the boss of the mother of Alice?", last=True)])
    assert moves == [None]
    assert overseer.counts["invalid: ask on last turn"] == 2
    assert overseer.counts["overseer_failures"] == 1


def test_endpoint_errors_count_as_tries(toy):
    with serve(lambda messages, model, params: Fail(500)) as server:
        client = ChatClient(server.endpoint, "toy", retries=1, backoff=0.01)
        overseer = LLMOverseer(client, toy.examples, toy.check_move, tries=2)
        assert overseer.moves([toy.step("Who is the mother of Alice?")]) == [None]
        assert server.calls == 4  # 2 tries x (1 + 1 retry)
    assert overseer.counts["endpoint_errors"] == 2 and overseer.counts["overseer_failures"] == 1


def test_rerun_is_served_from_the_cache(toy, tmp_path):
    def flaky_format(messages, model, params):
        return "ANSWER: Beth" if "invalid" in messages[-1]["content"] else "answer is Beth"

    steps = [toy.step(q, a, last) for q, a, last in STEPS]
    with serve(flaky_format) as server:
        client = ChatClient(server.endpoint, "toy", cache=tmp_path / "c.sqlite")
        first = LLMOverseer(client, toy.examples, toy.check_move).moves(steps)
        before = server.calls
        assert first == [{"answer": "Beth"}] * len(steps) and before == 2 * len(steps)
        again = LLMOverseer(client, toy.examples, toy.check_move)
        assert again.moves(steps) == first
        assert server.calls == before and again.counts["cache_hits"] == again.counts["requests"]


def test_answerer(toy):
    def answer(messages, model, params):
        shown = [m["content"] for m in messages if "Question: " in m["content"]][-1]
        question = shown.split("Question: ")[1]
        return "ANSWER: Beth" if "Alice" in question else "I do not know"

    with serve(answer) as server:
        client = ChatClient(server.endpoint, "toy")
        answerer = LLMAnswerer(client, [(toy.facts, "Who is the boss of Alice?", "Erin")])
        got = answerer.answers(
            [(toy.facts, "Who is the mother of Alice?"), (toy.facts, "Who is the mother of Zed?")]
        )
        shown = server.log[0]["messages"]
    assert got == ["Beth", ""]
    assert answerer.counts["answerer_failures"] == 1 and answerer.counts["requests"] == 3
    assert answerer.counts["invalid: no move"] == 2 and not answerer.counts["endpoint_errors"]
    assert shown[2] == {"role": "assistant", "content": "ANSWER: Erin"}
