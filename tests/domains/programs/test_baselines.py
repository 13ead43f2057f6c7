"""Baselines: the enumerators find every short program of a small DSL subset, pruning never
loses the only solution, budgets hold exactly, and DeepCoder's sort-and-add covers every op."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
import torch

from ida.domains.programs.amplify import problem_of
from ida.domains.programs.baselines import (
    BASELINES,
    deepcoder,
    predict_ops,
    run_baseline,
    train_attributes,
)
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.enumeration import bottom_up, depth_first
from ida.domains.programs.language import Program, Statement
from ida.domains.programs.search import Problem
from ida.domains.programs.simulator import Invalid, run
from ida.domains.programs.tasks import Example, Task, fits, freeze, generate

SUBSET = [L.op_index(n) for n in ("HEAD", "REVERSE", "SORT", "MAP (*2)", "TAKE")]
INPUTS = [(2, [3, -1, 4, 1, 5]), (1, [2, 7, 1, 8]), (3, [-5, 0, 9]), (0, [6, 6, -2, 3, 1, 4])]


def programs_upto(length: int, inputs: tuple[str, ...], ops: list[int]) -> list[Program]:
    """Every well-typed program of ``ops`` over ``inputs`` with 1..``length`` statements."""
    found, frontier = [], [Program(inputs)]
    for _ in range(length):
        grown = []
        for program in frontier:
            types = program.types(L)
            for op in ops:
                choices = [[v for v, t in enumerate(types) if t == a] for a in L.ops[op].args]
                grown += [program.then(Statement(op, args)) for args in product(*choices)]
        found += grown
        frontier = grown
    return found


def task_of(program: Program, inputs: list[tuple]) -> Task | None:
    """The task of ``program`` on ``inputs``; None where it is invalid on one."""
    try:
        outputs, _ = run(L, program, [list(x) for x in inputs])
    except Invalid:
        return None
    return Task([Example(tuple(x), y) for x, y in zip(inputs, outputs, strict=True)])


def test_enumerators_find_every_short_program_of_a_subset():
    tasks = {}
    for program in programs_upto(2, ("int", "list"), SUBSET):
        task = task_of(program, INPUTS)
        if task is not None:  # one task per distinct behaviour
            tasks.setdefault(tuple(freeze(e.output) for e in task.examples), task)
    assert len(tasks) >= 15
    for task in tasks.values():
        problem = problem_of(L, task)
        for found in (
            depth_first(L, problem, 10_000, max_length=2, ops=SUBSET),
            bottom_up(L, problem, 10_000, max_length=2, ops=SUBSET),
        ):
            assert found.program is not None and len(found.program) <= 2
            assert fits(L, found.program, task.examples), L.format(found.program, inline=True)
            assert 1 <= found.calls <= 10_000


REDUNDANT = [  # each has a step whose value equals an earlier one on the sorted inputs below
    "a <- [int]; b <- SORT a",
    "a <- [int]; b <- SORT a; c <- MAP (*2) b",
    "a <- [int]; b <- SORT a; c <- ZIPWITH (-) b a; d <- ZIPWITH (+) c b",
    "a <- [int]; b <- MINIMUM a; c <- HEAD a; d <- TAKE c a; e <- DROP b d",
    "a <- [int]; b <- REVERSE a; c <- REVERSE b; d <- SCANL1 (+) c",
]
SORTED = [([1, 2, 2, 5],), ([3, 4, 9],), ([2, 2, 3, 7, 8, 10],), ([1, 6],)]


@pytest.mark.parametrize("text", REDUNDANT)
def test_pruning_never_drops_the_only_solution(text):
    task = task_of(L.parse(text), SORTED)
    problem = problem_of(L, task)
    for search in (bottom_up, depth_first):
        found = search(L, problem, 50_000, max_length=4)
        assert found.program is not None, search.__name__
        assert fits(L, found.program, task.examples)


def test_bottom_up_solves_random_short_tasks():
    rng = np.random.default_rng(3)
    for k in range(50):
        task = generate(L, 1 + k % 2, rng, split=None)
        found = bottom_up(L, problem_of(L, task), 100_000, max_length=2)
        assert found.program is not None, L.format(task.program, inline=True)
        assert fits(L, found.program, task.examples)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return train_attributes(L, 8, np.random.default_rng(0), batch=16, chunk=4)


def inconsistent() -> Problem:
    task = Task([Example(([1, 2, 3],), [1]), Example(([1, 2, 3],), [2])])
    return problem_of(L, task)


def test_budgets_hold(net):
    for name in BASELINES:
        found = run_baseline(name, L, inconsistent(), 700, net=net)
        assert found.program is None and found.calls == 700, name
    small = depth_first(L, inconsistent(), 10**6, max_length=1)  # the space runs out first
    assert small.program is None and 0 < small.calls < 100
    rng = np.random.default_rng(5)
    for _ in range(6):
        task = generate(L, 2, rng)
        problem = problem_of(L, task)
        for name in BASELINES:
            full = run_baseline(name, L, problem, 50_000, max_length=2, net=net)
            assert full.program is not None and fits(L, full.program, task.examples)
            k = full.calls  # the solution was the k-th call: budget k finds it, k - 1 does not
            again = run_baseline(name, L, problem, k, max_length=2, net=net)
            assert again.program == full.program and again.calls == k
            short = run_baseline(name, L, problem, k - 1, max_length=2, net=net)
            assert short.program is None and short.calls == k - 1
    with pytest.raises(ValueError, match="unknown"):
        run_baseline("nope", L, problem, 10)


def test_deepcoder_with_a_barely_trained_net_finds_length_one_programs(net):
    rng = np.random.default_rng(7)
    tasks = [generate(L, 1, rng, split="test") for _ in range(10)]
    problems = [problem_of(L, t) for t in tasks]
    probs = predict_ops(L, net, problems)
    assert probs.shape == (10, len(L.ops)) and ((probs > 0) & (probs < 1)).all()
    for task, problem, p in zip(tasks, problems, probs, strict=True):
        found = deepcoder(L, net, problem, 20_000, max_length=2)
        assert found.program is not None and fits(L, found.program, task.examples)
        assert deepcoder(L, None, problem, 20_000, 2, probabilities=p).calls == found.calls


def test_train_attributes_reports_progress():
    losses = []
    train_attributes(
        L,
        3,
        np.random.default_rng(1),
        batch=8,
        chunk=2,
        reuse=2,
        progress=lambda s, x: losses.append((s, x)),
    )
    assert [s for s, _ in losses] == [1, 2, 3] and all(x > 0 for _, x in losses)
