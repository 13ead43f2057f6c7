"""Monte Carlo tree search over edits: it finds short programs, keeps to its budget, closes
dead ends instead of looping on them, and ends cleanly where no program fits."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from ida.domains.programs.amplify import solve
from ida.domains.programs.config import configure
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.job import make_net
from ida.domains.programs.search import SearchSettings
from ida.domains.programs.tasks import Example, Task, fits, generate

LISTS = [[3, 1, 2], [5, -2, 7, 0], [1], [4, 4, 1, 9, 2], [0, -3]]


@cache
def fresh_net():
    torch.manual_seed(0)
    return make_net(configure("programs", {"net": {"width": 16}, "device": "cpu"}))


def search(tasks, budget, **settings):
    s = SearchSettings(method="mcts", **settings)
    founds, counts = solve(L, fresh_net(), tasks, s, budget)
    assert sum(f.calls for f in founds) == counts["simulator_calls"]
    assert all(f.calls <= budget for f in founds)
    return founds


def test_every_length_one_task_is_found():
    rng = np.random.default_rng(3)
    tasks = [generate(L, 1, rng) for _ in range(12)]
    for task, found in zip(tasks, search(tasks, 400), strict=True):
        assert found.program is not None and fits(L, found.program, task.examples)


def test_a_length_two_task_is_found_and_fits():
    task = Task([Example((xs,), sorted(x * 2 for x in xs)) for xs in LISTS])
    (found,) = search([task], 3000, subgoals=0)
    assert found.program is not None and fits(L, found.program, task.examples)


@pytest.mark.parametrize("budget", [1, 7, 50])
def test_calls_never_exceed_the_budget(budget):
    task = Task([Example((xs,), [x * 3 - 1 for x in xs]) for xs in LISTS])
    (found,) = search([task], budget)
    assert found.calls <= budget


def test_inconsistent_examples_end_with_no_program():
    task = Task([Example(([1, 2],), [2]), Example(([1, 2],), [3])])
    (found,) = search([task], 500)
    assert found.program is None and found.calls <= 500


def test_a_tiny_space_is_exhausted_without_looping():
    # one list of one element and a length limit of 1: few edits, all tried, then the end
    task = Task([Example(([5],), [7, 7])])
    (found,) = search([task], 10_000, max_length=1, subgoals=0, forward_model=False)
    assert found.program is None and found.calls < 100
