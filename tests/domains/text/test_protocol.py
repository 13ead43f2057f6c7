"""The step contract and the scripted H: with true subanswers H gives the true answer at every
number of hops, every subquestion it asks is strictly easier and valid, and ``check_move``
refuses what is malformed, not easier, or about an entity the facts do not name."""

import numpy as np
import pytest

from ida.domains.text.data import sample_query
from ida.domains.text.kb import HELD_OUT, PERSON, TRAIN, sample_world, tell
from ida.domains.text.protocol import MAX_TURNS, check_move, make_step
from ida.domains.text.questions import Query, parse_question, render
from ida.domains.text.script import Noisy, ScriptedH


def world_and_facts(seed=0, templates=TRAIN):
    rng = np.random.default_rng(seed)
    world = sample_world(rng, 8)
    return world, tell(world, rng, templates)


def run_h(h, world, facts, question, answer=None):
    """H on ``question`` with subquestions answered by ``answer`` (default: the truth);
    returns H's final move and the subquestions it asked."""
    answer = answer or (lambda q: world.follow(q.entity, q.relations))
    answered, asked = [], []
    for turn in range(MAX_TURNS):
        step = make_step(facts, question, answered, turn == MAX_TURNS - 1)
        (move,) = h.moves([step])
        if move is None:
            return None, asked
        assert check_move(step, move) is None, (step, move)
        if "answer" in move:
            return move, asked
        for sub in move["ask"]:
            asked.append(sub)
            answered = answered + [[sub, answer(parse_question(sub))]]
    raise AssertionError("H never answered")


@pytest.mark.parametrize("templates", [TRAIN, HELD_OUT])
@pytest.mark.parametrize("hops", [1, 2, 3, 4])
def test_true_subanswers_give_the_true_answer_and_every_subquestion_is_easier(hops, templates):
    h = ScriptedH()
    for seed in range(6):
        world, facts = world_and_facts(seed, templates)
        rng = np.random.default_rng(seed)
        for _ in range(5):
            query = sample_query(world, hops, rng)
            question = render(query, templates, rng)
            move, asked = run_h(h, world, facts, question)
            assert move == {"answer": world.follow(query.entity, query.relations)}
            assert len(asked) == (0 if hops == 1 else 2)
            assert all(parse_question(q).hops < hops for q in asked)


def test_a_subanswer_that_names_nothing_in_the_facts_makes_h_give_up():
    world, facts = world_and_facts()
    question = render(
        sample_query(world, 3, np.random.default_rng(0)), TRAIN, np.random.default_rng(0)
    )
    h = ScriptedH()
    move, asked = run_h(h, world, facts, question, answer=lambda q: "Nobody Anywhere")
    assert move is None and len(asked) == 1 and h.counts["gave_up"] == 1


def test_h_reads_the_step_not_the_world():
    """The same question about other facts gets another answer."""
    world, facts = world_and_facts(0)
    person = world.entities[PERSON][0]
    question = f"Who employs {person}?"
    (move,) = ScriptedH().moves([make_step(facts, question, [], False)])
    assert move == {"answer": world.links[(person, "employer")]}
    (move,) = ScriptedH().moves([make_step([], question, [], False)])
    assert move is None


def step_about(world, facts, hops=3, last=False):
    person = world.entities[PERSON][0]
    question = render(
        Query(person, ("manager", "employer", "headquarters")[:hops]),
        TRAIN,
        np.random.default_rng(0),
    )
    return make_step(facts, question, [], last), person


@pytest.mark.parametrize(
    "move, reason",
    [
        (None, "a move is"),
        ("Lumen Ltd", "a move is"),
        ({}, "a move is"),
        ({"answer": "x", "ask": ["y"]}, "a move is"),
        ({"answer": ""}, "empty"),
        ({"answer": 3}, "empty"),
        ({"answer": "two\nlines"}, "one line"),
        ({"ask": "Who manages X?"}, "a move is"),
        ({"ask": []}, "one or two"),
        ({"ask": ["a", "b", "c"]}, "one or two"),
        ({"ask": ["What is the weather?"]}, "not a question of this domain"),
        ({"ask": ["Who employs Bob Smith?"]}, "not a question of this domain"),
    ],
)
def test_check_move_refuses_malformed_moves(move, reason):
    world, facts = world_and_facts()
    step, _ = step_about(world, facts)
    found = check_move(step, move)
    assert found is not None and reason in found and "\n" not in found


def test_check_move_refuses_subquestions_not_easier_or_about_unknown_entities():
    world, facts = world_and_facts()
    step, person = step_about(world, facts, hops=2)
    same = render(parse_question(step["question"]), TRAIN, np.random.default_rng(5))
    assert "not easier" in check_move(step, {"ask": [same]})
    harder = f"Which country is the city where the employer of the manager of {person} is based in?"
    assert "not easier" in check_move(step, {"ask": [harder]})
    stranger = next(n for n in ("Ada Brook", "Alan Carter", "Bea Dunn") if n not in " ".join(facts))
    assert "unknown entity" in check_move(step, {"ask": [f"Who manages {stranger}?"]})
    assert check_move(step, {"ask": [f"Who manages {person}?"]}) is None
    assert check_move(step, {"ask": [f"Who manages {person}?", f"Who employs {person}?"]}) is None
    last = make_step(facts, step["question"], [], True)
    assert "last turn" in check_move(last, {"ask": [f"Who manages {person}?"]})
    assert check_move(last, {"answer": "anything at all"}) is None


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_a_noisy_h_is_wrong_at_its_rate_the_same_way_every_time(rate):
    """Error injection: answers replaced by another entity of the facts at ``rate``,
    deterministically; subquestions untouched."""
    wrong = total = 0
    for seed in range(20):
        world, facts = world_and_facts(seed)
        rng = np.random.default_rng(seed)
        for hops in (1, 2):
            query = sample_query(world, hops, rng)
            question = render(query, TRAIN, rng)
            noisy = Noisy(ScriptedH(), rate, seed=1)
            move, asked = run_h(noisy, world, facts, question)
            again, _ = run_h(Noisy(ScriptedH(), rate, seed=1), world, facts, question)
            assert move == again and len(asked) == (0 if hops == 1 else 2)
            wrong += move["answer"] != world.follow(query.entity, query.relations)
            total += 1
    assert abs(wrong / total - rate) < 0.2
