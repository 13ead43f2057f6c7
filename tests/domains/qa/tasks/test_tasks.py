"""The task contract: H given true subanswers is exact, levels are well founded, H is robust."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pytest

from ida.core.errors import IdaError
from ida.domains.qa.tasks import TASKS, get_task
from ida.domains.qa.tasks.base import PAD, Instance, Question, Task, speaks_weak_hch, weak_hch
from ida.domains.qa.testing import oracle_answer, run_sync

NAMES = list(TASKS)
SIZES = (4, 16, 64)
QUESTIONS = 2000
PER_INSTANCE = 100


@cache
def samples(name: str, size: int) -> tuple[Task, list[tuple[Instance, Question, int]]]:
    """QUESTIONS random (instance, question, level) triples, levels cycling through all levels."""
    task, rng = get_task(name, size), np.random.default_rng(size)
    triples = []
    for i in range(QUESTIONS):
        if i % PER_INSTANCE == 0:
            inst = task.sample_instance(rng)
        level = i % task.num_levels
        triples.append((inst, task.sample_question(rng, inst, level), level))
    return task, triples


def test_registry_order():
    assert NAMES == [
        "permutation_powering",
        "sequential_assignments",
        "wildcard_search",
        "shortest_path",
        "union_find",
    ]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_overseer_with_true_subanswers_is_exact(name, size):
    task, triples = samples(name, size)
    for inst, q, _ in triples:
        assert oracle_answer(task, inst, q)[0] == task.solve(inst, q), task.format_question(q)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_levels_are_well_founded(name, size):
    task, triples = samples(name, size)
    for inst, q, level in triples:
        assert task.level_of(inst, q) == level
        _, asked = oracle_answer(task, inst, q)
        assert (level == 0) == (not asked), task.format_question(q)
        for sub in asked:
            sub_level = task.level_of(inst, sub)
            assert sub_level < level or sub_level == 0, (q, sub)


@pytest.mark.parametrize("size", (4, 5, 7, 16, 33, 128))
@pytest.mark.parametrize("name", NAMES)
def test_every_level_is_populated_in_every_instance(name, size):
    task, rng = get_task(name, size), np.random.default_rng(0)
    assert 2 <= task.num_levels <= 12
    for _ in range(3):
        inst = task.sample_instance(rng)
        for level in range(task.num_levels):
            assert task.level_of(inst, task.sample_question(rng, inst, level)) == level


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_tokens_and_padding(name, size):
    task, triples = samples(name, size)
    for inst, _, _ in triples[::PER_INSTANCE]:
        facts = inst.facts
        assert facts.dtype == np.int64 and facts.shape == (task.num_facts, task.fact_len)
        assert facts.min() >= 0 and facts.max() < task.vocab_size
        padding = (facts == PAD).all(axis=1)
        assert not padding[: (~padding).sum()].any(), "PAD rows must come last"
        assert (facts[~padding, 0] != PAD).all()
        assert isinstance(task.format_fact(facts[0]), str)
    for inst, q, _ in triples:
        assert len(q) == task.question_len and all(type(t) is int for t in q)
        assert all(0 <= t < task.vocab_size for t in q)
        assert 0 <= task.solve(inst, q) < task.answer_size
    assert isinstance(task.format_question(q), str)
    assert isinstance(task.format_answer(task.solve(inst, q)), str)
    if task.answer_tokens is not None:  # the token of each answer, as the facts write it
        assert len(task.answer_tokens) == task.answer_size == len(set(task.answer_tokens))
        assert all(PAD < t < task.vocab_size for t in task.answer_tokens)


def test_sequential_assignments_facts_write_answers_as_its_answer_tokens():
    """The table row f(a, b) holds, in its last slot, the token of the answer to F(a, b)."""
    from ida.domains.qa.tasks.sequential_assignments import TABLE

    task = get_task("sequential_assignments", 16)
    inst = task.sample_instance(np.random.default_rng(0))
    rows = [r for r in inst.facts if r[0] == TABLE]
    assert len(rows) == task.m**2
    for row in rows:
        a, b = row[1] - task.val0, row[2] - task.val0
        assert row[3] == task.answer_tokens[task.solve(inst, task.f_question(a, b))]


class RandomAsk:
    """An answerer returning random tokens, as an untrained model would; records what it saw."""

    def __init__(self, task: Task, rng: np.random.Generator):
        self.task, self.rng, self.asked = task, rng, []

    async def __call__(self, question: Question) -> int:
        return (await self.all([question]))[0]

    async def all(self, questions: Sequence[Question]) -> list[int]:
        self.asked.extend(questions)
        return [int(self.rng.integers(self.task.answer_size)) for _ in questions]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_overseer_survives_wrong_answers(name, size):
    task, triples = samples(name, size)
    rng = np.random.default_rng(1)
    for inst, q, _ in triples[:500]:
        ask = RandomAsk(task, rng)
        answer = run_sync(task.overseer(inst, q, ask))
        assert type(answer) is int and 0 <= answer < task.answer_size
        for sub in ask.asked:
            assert len(sub) == task.question_len
            assert all(type(t) is int and 0 <= t < task.vocab_size for t in sub)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_weak_hch_fan_in_ignores_the_order_of_the_subquestions(name, size):
    task, triples = samples(name, size)
    assert speaks_weak_hch(task)
    rng = np.random.default_rng(2)
    swapped = 0
    for inst, q, _ in triples[:500]:
        step = task.fan_out(inst, q)
        for _ in range(4):  # walk a few fan-ins with random answers
            if not isinstance(step, tuple):
                break
            assert 1 <= len(step) <= 2
            answered = tuple((sub, int(rng.integers(task.answer_size))) for sub in step)
            step = task.fan_in(inst, q, answered)
            if len(answered) == 2:
                assert task.fan_in(inst, q, answered[::-1]) == step
                swapped += 1
    assert swapped > 0 or name in ("permutation_powering", "union_find")  # one at a time


def test_weak_hch_allows_at_most_two_subquestions():
    task = get_task("wildcard_search", 8)
    inst = task.sample_instance(np.random.default_rng(0))
    q = task.sample_question(np.random.default_rng(0), inst, 2)
    task.fan_out = lambda inst, question: (q, q, q)
    with pytest.raises(ValueError, match="not 1 or 2"):
        run_sync(weak_hch(task, inst, q, RandomAsk(task, np.random.default_rng(0))))


@pytest.mark.parametrize("name", NAMES)
def test_sizes_outside_the_range_are_rejected(name):
    cls = TASKS[name]
    for size in (cls.min_size - 1, cls.max_size + 1, 16.0, "16"):
        with pytest.raises(IdaError):
            cls(size)
    assert get_task(name).size == cls.default_size


def test_same_seed_same_instance():
    for name in NAMES:
        task = get_task(name)
        a, b = (task.sample_instance(np.random.default_rng(7)) for _ in range(2))
        assert np.array_equal(a.facts, b.facts)
