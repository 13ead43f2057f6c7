"""Amplify(H, A): traces, exact call accounting, recursion depth, and HCH."""

from collections import Counter

import numpy as np
import pytest

from ida.core.engine import Engine
from ida.domains.qa.amplify.decompose import Decomposition
from ida.domains.qa.tasks import TASKS, get_task
from ida.domains.qa.trace import LOOKUP, MODEL, OVERSEER


class CountingOracle:
    """A model stand-in that answers exactly and counts the questions it was asked."""

    def __init__(self, task, insts, wrong=False):
        self.task, self.insts, self.wrong, self.calls = task, insts, wrong, 0

    def __call__(self, items):
        self.calls += len(items)
        if self.wrong:
            return [0] * len(items)
        return [self.task.solve(self.insts[slot], q) for slot, q in items]


def sample(task, n=64, seed=0):
    rng = np.random.default_rng(seed)
    insts = [task.sample_instance(rng) for _ in range(8)]
    roots = []
    for i in range(n):
        level = int(rng.integers(task.num_levels))
        roots.append((i % 8, task.sample_question(rng, insts[i % 8], level)))
    return insts, roots


@pytest.mark.parametrize("name", list(TASKS))
def test_calls_are_counted_exactly(name):
    task = get_task(name, 8)
    insts, roots = sample(task)
    oracle = CountingOracle(task, insts)
    trees = Decomposition(task, Engine()).run(insts, roots, oracle)
    costs = Counter()
    for tree in trees:
        costs.update(tree.costs())
        assert tree.by in (OVERSEER, LOOKUP) and tree.depth == 0
        for child in tree.children:  # depth 1: every subquestion goes to the model
            assert child.by == MODEL and child.depth == 1 and not child.children
    assert costs[MODEL] == oracle.calls
    assert costs[OVERSEER] + costs[LOOKUP] == len(roots)
    # with exact subanswers the amplified answer is the true answer
    assert [t.answer for t in trees] == [task.solve(insts[s], q) for s, q in roots]


@pytest.mark.parametrize("name", list(TASKS))
def test_hch_without_model_is_exact(name):
    task = get_task(name, 8)
    insts, roots = sample(task, seed=1)
    trees = Decomposition(task, Engine()).run(insts, roots, None)
    assert [t.answer for t in trees] == [task.solve(insts[s], q) for s, q in roots]
    for tree in trees:
        assert all(node.by != MODEL for node in tree.walk())
        assert tree.overseer_calls == sum(1 for _ in tree.walk())


def test_depth_two_recurses_once_before_the_model():
    task = get_task("permutation_powering", 16)
    rng = np.random.default_rng(0)
    inst = task.sample_instance(rng)
    roots = [(0, task.question(3, 16))]
    oracle = CountingOracle(task, [inst], wrong=True)
    (tree,) = Decomposition(task, Engine(), depth=2).run([inst], roots, oracle)
    for child in tree.children:
        assert child.by == OVERSEER and child.depth == 1
        assert all(g.by == MODEL and g.depth == 2 for g in child.children)
    assert tree.costs()[MODEL] == oracle.calls > 0


def test_many_trees_are_batched_together():
    task = get_task("wildcard_search", 16)
    insts, roots = sample(task, n=256)
    oracle = CountingOracle(task, insts)
    engine = Engine()
    Decomposition(task, engine).run(insts, roots, oracle)
    # one round of subquestions for all 256 trees: the batch holds every tree's asks
    assert engine.stats.rounds <= 3
    assert engine.stats.mean_batch > 100
