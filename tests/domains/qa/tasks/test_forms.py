"""Question forms and instances read back from facts: what a person playing H builds and sees."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ida.domains.qa.tasks import TASKS, get_task
from ida.domains.qa.tasks import sequential_assignments as sa
from ida.domains.qa.tasks import union_find as uf
from ida.domains.qa.tasks.base import Answered, Instance, Question, QuestionForm, Slot, Task

NAMES = list(TASKS)
INSTANCES = 30
PER_LEVEL = 6


def sizes(name: str) -> list[int]:
    cls = TASKS[name]
    return [cls.min_size, cls.default_size]


CASES = [(name, size) for name in NAMES for size in sizes(name)]


def walk(task: Task, inst: Instance, copy: Instance, question: Question, seen: set) -> None:
    """H's whole decomposition of ``question`` given true answers: every question asked fits a
    form, and H, ``solve`` and ``level_of`` agree on the instance read back from its facts."""
    if question in seen:
        return
    seen.add(question)
    assert task.check_question(list(question)) == question
    assert task.solve(copy, question) == task.solve(inst, question)
    assert task.level_of(copy, question) == task.level_of(inst, question)
    answered: Answered = ()
    for _ in range(8):
        step = task.next_step(inst, question, answered)
        assert task.next_step(copy, question, answered) == step
        if not isinstance(step, tuple):
            return
        for sub in step:
            walk(task, inst, copy, sub, seen)
        answered = tuple((sub, task.solve(inst, sub)) for sub in step)
    raise AssertionError(f"H did not answer {task.format_question(question)}")


@pytest.mark.parametrize(("name", "size"), CASES)
def test_questions_fit_forms_and_read_instance_agrees(name, size):
    task, rng = get_task(name, size), np.random.default_rng(size)
    for _ in range(INSTANCES):
        inst = task.sample_instance(rng)
        copy = task.read_instance(inst.facts.copy())
        np.testing.assert_array_equal(copy.facts, inst.facts)
        seen: set = set()
        for level in range(task.num_levels):
            for _ in range(PER_LEVEL):
                q = task.sample_question(rng, inst, level)
                walk(task, inst, copy, q, seen)
                # H's fan-ins agree on wrong answers too
                step = task.fan_out(inst, q)
                if isinstance(step, tuple):
                    answered = tuple((s, int(rng.integers(task.answer_size))) for s in step)
                    assert task.fan_in(copy, q, answered) == task.fan_in(inst, q, answered)


@pytest.mark.parametrize("name", NAMES)
def test_every_form_question_is_one_h_handles(name):
    """At the smallest size, every question the forms build has a level and H answers it."""
    task, rng = get_task(name, TASKS[name].min_size), np.random.default_rng(1)
    inst = task.sample_instance(rng)
    copy = task.read_instance(inst.facts)
    for form in task.question_forms():
        slots = [p for p in form.parts if isinstance(p, Slot)]
        for choice in itertools.product(*(s.options for s in slots)):
            q = form.build([token for token, _ in choice])
            assert len(q) == task.question_len and form.fits(q)
            assert 0 <= task.level_of(inst, q) < task.num_levels
            text = task.format_question(q)
            assert all(label in text for _, label in choice), (text, choice)
            walk(task, inst, copy, q, set())


@pytest.mark.parametrize("name", NAMES)
def test_check_question_rejects(name):
    task, rng = get_task(name), np.random.default_rng(2)
    q = task.sample_question(rng, task.sample_instance(rng), task.num_levels - 1)
    assert task.check_question(np.array(q)) == q
    for bad in [q[:-1], (*q, q[0]), (*q[:-1], task.vocab_size), (*q[:-1], -1), (*q[:-1], 0.5)]:
        with pytest.raises(ValueError, match=f"not a question of {name}"):
            task.check_question(bad)
    for bad in [(*q[:-1], str(q[-1])), (True, *q[1:]), 7]:
        with pytest.raises(ValueError, match=f"not a question of {name}"):
            task.check_question(bad)


@pytest.mark.parametrize("name", NAMES)
def test_form_build_rejects_bad_choices(name):
    task = get_task(name)
    for form in task.question_forms():
        slots = [p for p in form.parts if isinstance(p, Slot)]
        good = [s.options[0][0] for s in slots]
        assert form.fits(form.build(good))
        unknown = max(t for s in slots for t, _ in s.options) + 1
        for bad in [good[:-1], [*good, good[0]], [*good[:-1], unknown], [*good[:-1], "1"]]:
            with pytest.raises(ValueError, match=f"form {form.name}"):
                form.build(bad)


def test_form_build_and_fits():
    slot = Slot("x", ((5, "a"), (6, "b")))
    form = QuestionForm("f", (1, slot, 0, slot))
    assert form.build([6, 5]) == (1, 6, 0, 5)
    assert form.fits((1, 6, 0, 5)) and not form.fits((2, 6, 0, 5)) and not form.fits((1, 7, 0, 5))
    assert not form.fits((1, 6, 0)) and not form.fits((1, 6.0, 0, 5))
    with pytest.raises(ValueError, match="takes 2 choices"):
        form.build([5])


def malformed(task: Task, facts: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Facts that are no instance: wrong shapes and types, out-of-range and PAD tokens, a
    duplicated fact."""
    dup = facts.copy()
    dup[1] = dup[0]
    out_of_range, pad = facts.copy(), facts.copy()
    out_of_range[rng.integers(len(facts)), rng.integers(task.fact_len)] = task.vocab_size
    pad[rng.integers(len(facts))] = 0
    return [facts[:-1], facts[:, :-1], facts[None], facts.astype(float), out_of_range, pad, dup]


@pytest.mark.parametrize("name", NAMES)
def test_read_instance_rejects_malformed_facts(name):
    task, rng = get_task(name), np.random.default_rng(3)
    facts = task.sample_instance(rng).facts
    for bad in malformed(task, facts, rng):
        with pytest.raises(ValueError, match=f"not an instance of {name}"):
            task.read_instance(bad)
    for bad in [facts.tolist()[:-1], [[1, 2], [3]], "facts", None]:
        with pytest.raises(ValueError, match=f"not an instance of {name}"):
            task.read_instance(bad)


def cyclic(task: Task, inst: Instance) -> np.ndarray:
    """Facts well formed row by row whose structure is broken: a union_find root made equal to
    one of its descendants (a cycle), a sequential_assignments v_i using itself, a shortest_path
    self loop."""
    facts = inst.facts.copy()
    if task.name == "union_find":
        child = int(np.flatnonzero(inst.data.parent >= 0)[0])
        root = task.solve(inst, (uf.ROOT, uf.VAR + child))
        facts[facts[:, 1] == uf.VAR + root] = [uf.EQUALS, uf.VAR + root, uf.VAR + child]
    elif task.name == "sequential_assignments":
        apply = facts[:, 0] == sa.APPLY
        facts[apply, 2] = facts[apply, 1]
    else:
        facts[0, 1] = facts[0, 0]
    return facts


@pytest.mark.parametrize("name", ["union_find", "sequential_assignments", "shortest_path"])
def test_read_instance_rejects_broken_structure(name):
    task, rng = get_task(name), np.random.default_rng(4)
    for _ in range(5):
        with pytest.raises(ValueError, match=f"not an instance of {name}"):
            task.read_instance(cyclic(task, task.sample_instance(rng)))
