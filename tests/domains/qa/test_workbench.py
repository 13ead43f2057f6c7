"""The QA domain's step view for the web workbench: the texts of a step, the moves it accepts
and the ones it refuses (422)."""

from __future__ import annotations

import numpy as np
import pytest

from ida.core.registry import domain_of
from ida.domains.qa.tasks import all_tasks, get_task
from ida.domains.qa.tasks.union_find import ROOT, VALUE, VAR
from ida.domains.qa.workbench import TaskBench, parse_move, step_view
from ida.overseers.human.protocol import QueueError, context_of


def a_context(task, level=1, seed=0):
    rng = np.random.default_rng(seed)
    inst = task.sample_instance(rng)
    question = task.sample_question(rng, inst, level)
    return inst, question, context_of(inst.facts.tolist(), question, [])


def test_step_view_of_union_find():
    task = get_task("union_find", 8)
    inst, question, context = a_context(task)
    context["answered"] = [[[ROOT, VAR + 2], 5]]
    view = step_view(task, context)
    assert view["facts"] == [task.format_fact(row) for row in inst.facts]
    assert view["question"] == task.format_question(question)
    assert view["answered"] == [{"question": "root(x2)", "answer": "5"}]
    assert view["choices"] == [[a, str(a)] for a in range(8)]
    assert [form["name"] for form in view["forms"]] == ["value", "root"]
    assert view["forms"][0]["parts"][0] == {"fixed": VALUE}
    assert view["forms"][0]["parts"][1]["options"][3] == [VAR + 3, "x3"]
    assert "choices" not in step_view(task, context, static=False)


@pytest.mark.parametrize("name", sorted(all_tasks()))
def test_every_task_has_a_view_and_takes_its_own_overseers_moves(name):
    task = get_task(name, all_tasks()[name].min_size)
    bench = domain_of(name).workbench(name, task.size)
    assert isinstance(bench, TaskBench)
    inst, question, context = a_context(task, level=task.num_levels - 1)
    view = bench.view(context)
    assert view["question"] and view["facts"] and view["forms"]
    step = task.fan_out(inst, question)
    move = {"answer": step} if isinstance(step, int) else {"ask": [list(q) for q in step]}
    assert bench.parse_move(context, move) == move


@pytest.mark.parametrize(
    "payload, says",
    [
        (None, "a move is"),
        ({}, "a move is"),
        ({"answer": 1, "ask": []}, "a move is"),
        ({"give": 1}, "a move is"),
        ({"answer": None}, "integer"),
        ({"answer": 1.0}, "integer"),
        ({"answer": False}, "integer"),
        ({"answer": 8}, "out of range"),
        ({"answer": -1}, "out of range"),
        ({"ask": []}, "not 0"),
        ({"ask": [[1, 5]] * 3}, "not 3"),
        ({"ask": [[1, 5], "x"]}, "list of tokens"),
        ({"ask": [[3, 5]]}, "fits none"),
        ({"ask": [[1, 5, 5]]}, "3 tokens"),
        ({"ask": [[1, "5"]]}, "non-integer"),
    ],
)
def test_parse_move_refuses_with_422(payload, says):
    task = get_task("union_find", 8)
    _, _, context = a_context(task)
    with pytest.raises(QueueError, match=says) as refused:
        parse_move(task, context, payload)
    assert refused.value.status == 422 and "\n" not in str(refused.value)


def test_build_question_from_a_form():
    bench = TaskBench(get_task("union_find", 8))
    assert bench.build_question(1, [VAR + 4]) == [ROOT, VAR + 4]
    for form, choices in ((2, [VAR]), (0, [3]), (0, [VAR, VAR])):
        with pytest.raises(QueueError) as refused:
            bench.build_question(form, choices)
        assert refused.value.status == 422
    assert bench.question([ROOT, VAR + 1]) == "root(x1)" and bench.answer(3) == "3"
    assert bench.fact([4, VAR, VAR + 8 + 2]) == "x0 := 2"


def refused_with_422(task, context, payload, says):
    with pytest.raises(QueueError, match=says) as refused:
        parse_move(task, context, payload)
    assert refused.value.status == 422


def test_asking_again_the_answered_subquestions_is_refused():
    task = get_task("union_find", 8)
    _, _, context = a_context(task)
    one, two, new = [ROOT, VAR + 2], [VALUE, VAR + 3], [ROOT, VAR + 4]
    context["answered"] = [[one, 5], [two, 1]]
    for asked in ([one, two], [two, one]):  # in any order
        refused_with_422(task, context, {"ask": asked}, "answered already")
    assert parse_move(task, context, {"ask": [new]}) == {"ask": [new]}  # a new one is fine
    context["answered"] = [[one, 5]]
    refused_with_422(task, context, {"ask": [one]}, "answered already")
    assert parse_move(task, context, {"ask": [one, new]}) == {"ask": [one, new]}


def test_the_last_turn_takes_only_an_answer():
    task = get_task("union_find", 8)
    _, _, context = a_context(task)
    context["answered"] = [[[ROOT, VAR + 2], 5]]
    assert parse_move(task, context, {"ask": [[ROOT, VAR + 4]]}) == {"ask": [[ROOT, VAR + 4]]}
    context["last"] = True
    for asked in ([[ROOT, VAR + 4]], [[ROOT, VAR + 4], [VALUE, VAR + 1]]):
        refused_with_422(task, context, {"ask": asked}, "last turn")
    assert parse_move(task, context, {"answer": 3}) == {"answer": 3}
