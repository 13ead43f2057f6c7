"""Distillation rows and losses: a solved search's policy rows are its program's statements,
hindsight rows come from failed searches too, a few steps on fixed rows lower the loss, and
rows that teach a head nothing leave its loss finite."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from ida.core.learner import Learner
from ida.domains.programs.amplify import _hindsight, problem_of, solve, to_rows
from ida.domains.programs.config import configure
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.distill import EditDistiller, EditRows, losses
from ida.domains.programs.encode import tokens_of
from ida.domains.programs.job import make_net
from ida.domains.programs.search import SearchSettings
from ida.domains.programs.tasks import Example, Task, generate, split_of_program

LISTS = [[3, 1, 2], [5, -2, 7, 0], [1], [4, 4, 1, 9, 2], [0, -3]]
SLOTS = 11


def fresh_net(seed=0):
    torch.manual_seed(seed)
    return make_net(configure("programs", {"net": {"width": 16}, "device": "cpu"}))


@cache
def searched(fn=None, subgoals=8, budget=2000):
    """A task (``fn`` of each list, or impossible) and a fresh net's search of it."""
    if fn is None:
        task = Task(
            [Example(([1, 2],), [2, 1]), Example(([1, 2],), [3, 1]), Example(([5, 7, 9],), [0])]
        )
    else:
        task = Task([Example((xs,), fn(xs)) for xs in LISTS])
    (found,), _ = solve(L, fresh_net(), [task], SearchSettings(subgoals=subgoals), budget)
    return problem_of(L, task), found


def reverse_sorted(xs):
    return sorted(xs)[::-1]


def sorted_plus_one(xs):
    return [x + 1 for x in sorted(xs)]


def reversed_doubled(xs):
    return [2 * x for x in xs[::-1]]


def rows_of(found, negatives=0, outcomes=0, hindsight=0, seed=0):
    rng = np.random.default_rng(seed)
    return to_rows(L, [found], rng, SLOTS, negatives, outcomes, hindsight)


def edits_of(rows, mask):
    return [
        (int(o), tuple(int(a) for a in args if a >= 0))
        for o, args in zip(rows.op[mask], rows.args[mask], strict=True)
    ]


def goal_tokens(values):
    tokens, _ = tokens_of(L, values)
    return tokens


@pytest.mark.parametrize(
    "fn, subgoals", [(reversed_doubled, 0), (sorted_plus_one, 8), (reverse_sorted, 8)]
)
def test_the_policy_rows_are_the_found_programs_statements(fn, subgoals):
    problem, found = searched(fn, subgoals)
    assert found.program is not None and len(found.program) == 2
    statements = [(s.op, s.args) for s in found.program.statements]
    rows = rows_of(found)
    towards_outputs = rows.w_forward > 0
    assert (rows.w_policy == 1).all() and (rows.label == 1).all()
    assert edits_of(rows, towards_outputs) == statements
    assert (rows.outcome[towards_outputs] == 2).all()  # each step gave a new value
    n = len(problem.inputs)
    assert [int((k > 0).sum()) for k in rows.kinds[towards_outputs]] == [
        n + k for k in range(len(statements))
    ]
    outputs = goal_tokens(problem.output)
    for tokens in rows.goal_tokens[towards_outputs]:
        assert np.array_equal(tokens[: len(LISTS)], outputs)
    # reached through a sub-goal: the steps before its op are rows towards the sub-goal too
    goal = found.goals[found.path[-1].goal]
    subgoal_rows = ~towards_outputs
    assert (goal.finish is None) == (subgoals == 0)
    if goal.finish is None:
        assert not subgoal_rows.any()
    else:
        assert edits_of(rows, subgoal_rows) == statements[:-1]
        for tokens in rows.goal_tokens[subgoal_rows]:
            assert np.array_equal(tokens[: len(LISTS)], goal_tokens(goal.values))


def test_negative_and_outcome_rows():
    problem, found = searched(reverse_sorted)
    plain = rows_of(found)
    rows = rows_of(found, negatives=3, outcomes=5)
    assert len(rows) == len(plain) + 3 + 5
    negative = (rows.label == 0) & (rows.w_value == 1)
    assert negative.sum() == 3 and (rows.w_policy[negative] == 0).all()
    forward_only = (rows.w_forward == 1) & (rows.w_value == 0)
    assert forward_only.sum() == 5 and (rows.w_policy[forward_only] == 0).all()
    tried = {(t.node.statement(t.rank).op, t.outcome) for t in found.tried}
    assert {
        (int(o), int(c))
        for o, c in zip(rows.op[forward_only], rows.outcome[forward_only], strict=True)
    } <= tried


def test_a_failed_search_still_gives_hindsight_rows():
    """No program fits the task, but each program the search ran is one found for its own
    last value: its statements, towards that value, as policy rows."""
    problem, found = searched(None, subgoals=0, budget=300)
    assert found.program is None
    assert rows_of(found, negatives=4) is None
    rows = rows_of(found, hindsight=1)
    assert (rows.w_policy == 1).all() and (rows.label == 1).all() and (rows.w_forward == 0).all()
    programs = {}
    for t in found.tried:
        if t.child is not None:
            programs[tuple((s.op, s.args) for s in t.child.program.statements)] = t.child
    child = programs[tuple(edits_of(rows, slice(None)))]
    assert len(child.program) >= 2 and all(child.program.used())
    for tokens in rows.goal_tokens:
        assert np.array_equal(tokens[:3], goal_tokens(child.env[-1]))


def test_hindsight_distils_only_programs_the_generator_could_train_on():
    """A program the search ran (or a rollout) is distilled in hindsight only if its output
    varies across the examples and its behaviour lies in the training split."""
    problem, found = searched(None, subgoals=0, budget=300)
    ran = [
        t.child
        for t in found.tried
        if t.child is not None and len(t.child.program) > 1 and all(t.child.program.used())
    ]
    chosen = _hindsight(L, ran, np.random.default_rng(0), len(ran))
    fine = [
        c
        for c in ran
        if len({c.env[-1].rows(i).key() for i in range(3)}) > 1
        and split_of_program(L, c.program) == "train"
    ]
    assert {id(c) for c in chosen} == {id(c) for c in fine}
    assert 0 < len(fine) < len(ran)
    assert any(split_of_program(L, c.program) == "test" for c in ran)
    assert len(_hindsight(L, ran, np.random.default_rng(0), 3)) == 3


@cache
def fixed_rows() -> EditRows:
    """Rows of a few searches: policy, value, negatives and outcomes."""
    rng = np.random.default_rng(0)
    tasks = [generate(L, n, rng) for n in (1, 1, 1, 2, 2, 2)]
    founds, _ = solve(L, fresh_net(), tasks, SearchSettings(), 200)
    return to_rows(L, founds, rng, SLOTS, 4, 8, 2)


def total(parts):
    return sum(parts.values())


def test_a_few_steps_on_fixed_rows_lower_the_loss():
    rows = fixed_rows()
    assert (rows.w_policy > 0).sum() >= 6 and (rows.label == 0).sum() >= 4
    net = fresh_net(1)
    learner = Learner(net, 1e-2, weight_decay=0.0)
    net.train()
    first = None
    for _ in range(30):
        parts = losses(net, rows, "cpu")
        first = first or {k: v.item() for k, v in parts.items()}
        learner.step(total(parts))
    last = {k: v.item() for k, v in losses(net, rows, "cpu").items()}
    assert sum(last.values()) < 0.7 * sum(first.values())
    assert all(last[k] < first[k] for k in first), (first, last)


def with_weights(rows, **weights):
    arrays = rows.arrays()
    arrays.update({k: np.full(len(rows), v, dtype=np.float32) for k, v in weights.items()})
    return EditRows(**arrays)


@pytest.mark.parametrize(
    "weights",
    [
        {"w_policy": 0.0},
        {"w_value": 0.0},
        {"w_forward": 0.0},
        {"w_policy": 0.0, "w_value": 0.0, "w_forward": 0.0},
    ],
)
def test_a_head_with_no_weight_has_a_finite_zero_loss(weights):
    net = fresh_net(2)
    parts = losses(net, with_weights(fixed_rows(), **weights), "cpu")
    total(parts).backward()
    assert all(torch.isfinite(v) for v in parts.values())
    for name in weights:
        assert parts[name.replace("w_", "") + "_loss"].item() == 0
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_negative_rows_over_an_int_first_variable_stay_finite():
    """A negative row's edit is a placeholder (HEAD of variable 0): weight 0 on the policy,
    even where variable 0 is an int that HEAD cannot take."""
    task = Task([Example((k, xs), xs[:k]) for k, xs in zip([1, 2, 0, 3, 1], LISTS, strict=True)])
    (found,), _ = solve(L, fresh_net(), [task], SearchSettings(), 300)
    rows = rows_of(found, negatives=4)
    assert found.program is not None and (rows.kinds[:, 0] == 1).all()
    parts = losses(fresh_net(), rows, "cpu")
    assert all(torch.isfinite(v) for v in parts.values())


def test_the_distiller_learns_only_once_it_has_rows():
    net = fresh_net(3)
    distiller = EditDistiller(net, Learner(net, 1e-3), 1000, 16, "cpu")
    rng = np.random.default_rng(0)
    assert distiller.step(rng) == {}
    distiller.add(None)
    distiller.add(fixed_rows())
    step = distiller.step(rng)
    assert set(step) == {"loss", "policy_loss", "value_loss", "forward_loss"}
    assert np.isfinite(step["loss"]) and distiller.teacher is net
