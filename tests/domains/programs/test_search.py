"""Search over edits: every short program is reachable, budgets and deadlines hold, sub-goals
finish programs and share calls, each world-model part switched off changes nothing else, and
repeated values never become states."""

from __future__ import annotations

from functools import cache
from itertools import product

import numpy as np
import pytest
import torch

from ida.core.engine import Engine
from ida.domains.programs.amplify import problem_of, solve
from ida.domains.programs.config import configure
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.guide import Advice
from ida.domains.programs.job import make_net
from ida.domains.programs.search import (
    INVALID,
    NEW,
    REPEAT,
    SearchSettings,
    best_first,
    signature,
)
from ida.domains.programs.simulator import Simulator
from ida.domains.programs.tasks import Example, Task, fits, generate

LISTS = [[3, 1, 2], [5, -2, 7, 0], [1], [4, 4, 1, 9, 2], [0, -3]]


@cache
def fresh_net():
    torch.manual_seed(0)
    return make_net(configure("programs", {"net": {"width": 16}, "device": "cpu"}))


def search(task, budget, seconds=float("inf"), **settings):
    """One task searched with the fresh net; checks the search's count against the
    simulator's."""
    (found,), counts = solve(
        L, fresh_net(), [task], SearchSettings(**settings), budget, seconds=seconds
    )
    assert found.calls == counts["simulator_calls"] <= budget
    return found


def task_of(fn, lists=LISTS):
    """The task ``fn`` of each list."""
    return Task([Example((xs,), fn(xs)) for xs in lists])


def edits(types):
    """Every type-valid (op, args) of a state with variables of ``types``, in op order."""
    return [
        (o, args)
        for o, op in enumerate(L.ops)
        for args in product(*[[v for v, t in enumerate(types) if t == a] for a in op.args])
    ]


def uniform_guide(favour_subgoals=False):
    """Every type-valid edit, equally likely, in op order; value 0.5, or with
    ``favour_subgoals`` 0.9 towards a sub-goal and 0.1 towards the outputs (``guide.output``,
    which ``run_search`` sets)."""

    def guide(items):
        out = []
        for env, goal in items:
            found = edits([v.type for v in env])
            args = np.full((len(found), 2), -1, dtype=np.int16)
            for i, (_, a) in enumerate(found):
                args[i, : len(a)] = a
            value = 0.5
            if favour_subgoals:
                value = 0.1 if goal.key() == guide.output.key() else 0.9
            ops = np.array([o for o, _ in found], dtype=np.int16)
            k = len(found)
            out.append(Advice(ops, args, np.full(k, -np.log(k)), np.ones(k), value))
        return out

    return guide


def run_search(task, guide, budget, **settings):
    """``best_first`` alone in an engine with ``guide`` and a fresh simulator."""
    problem = problem_of(L, task)
    guide.output = problem.output
    simulator = Simulator(L)
    coro = best_first(problem, L, SearchSettings(**settings), guide, simulator.extend, budget)
    (found,) = Engine().run([coro])
    assert found.calls == simulator.calls <= budget
    return found


def test_every_generated_length_one_task_is_found():
    """One generated task per op (any split), each found within 300 calls by a fresh net."""
    rng = np.random.default_rng(0)
    by_op = {}
    while len(by_op) < len(L.ops):
        task = generate(L, 1, rng, split=None)
        by_op.setdefault(task.program.statements[0].op, task)
    tasks = [by_op[op] for op in range(len(L.ops))]
    founds, counts = solve(L, fresh_net(), tasks, SearchSettings(), 300)
    assert counts["simulator_calls"] == sum(f.calls for f in founds)
    for task, found in zip(tasks, founds, strict=True):
        assert found.program is not None, L.format(task.program, inline=True)
        assert fits(L, found.program, task.examples) and found.calls <= 300


def test_every_op_on_every_fitting_argument_is_reachable():
    """Inputs (int, list, list): each of the 38 ops on each choice of arguments of its types
    is a task that a fresh net's search solves within 300 calls (all but MIN and MAX of a list
    with itself, which give the list back)."""
    rng = np.random.default_rng(1)

    def small_list():
        return rng.integers(-3, 4, rng.integers(3, 7)).tolist()

    cases, tasks, identities = [], [], []
    for op, args in edits(["int", "list", "list"]):
        for _ in range(100):  # inputs the op is valid on, giving a value that no input has
            inputs = [(int(rng.integers(0, 4)), small_list(), small_list()) for _ in range(5)]
            outputs = [L.evaluate(op, [row[a] for a in args]) for row in inputs]
            if None not in outputs and all(
                any(y != row[k] for y, row in zip(outputs, inputs, strict=True)) for k in range(3)
            ):
                cases.append((op, args))
                tasks.append(Task([Example(x, y) for x, y in zip(inputs, outputs, strict=True)]))
                break
        else:
            identities.append(f"{L.ops[op].name} {args}")
    assert len(cases) + len(identities) == 86
    assert identities == [f"ZIPWITH {f} {a}" for f in ("MIN", "MAX") for a in ((1, 1), (2, 2))]
    founds, _ = solve(L, fresh_net(), tasks, SearchSettings(), 300)
    for (op, args), task, found in zip(cases, tasks, founds, strict=True):
        assert found.program is not None, (L.ops[op].name, args)
        assert fits(L, found.program, task.examples)


@pytest.mark.parametrize("budget", [1, 5, 8, 9, 40])
@pytest.mark.parametrize("pops", [1, 3, 8])
def test_calls_never_exceed_the_budget(budget, pops):
    rng = np.random.default_rng(budget)
    for length in (2, 3):
        task = generate(L, length, rng)
        found = search(task, budget, pops=pops, subgoals=8)
        assert found.calls <= budget
        assert found.program is not None or found.calls == budget


def test_finishing_at_a_sub_goal_stays_within_the_budget_and_max_length():
    """The sub-goal SORT of a is reached with a fresh call (sub-goals searched first): the
    finishing REVERSE needs one call more, and a statement more than the one-statement cap."""
    task = task_of(lambda xs: sorted(xs)[::-1])
    found = run_search(task, uniform_guide(True), 1000, subgoals=8, pops=1)
    assert L.format(found.program, inline=True) == "a <- [int]; b <- SORT a; c <- REVERSE b"
    reached = found.calls - 1  # the call that reached the sub-goal
    assert found.tried[-1].child is found.path[-1]
    starved = run_search(task, uniform_guide(True), reached, subgoals=8, pops=1)
    assert starved.calls == reached and starved.program is None
    capped = run_search(task, uniform_guide(True), 1000, subgoals=8, pops=1, max_length=1)
    assert capped.program is None


def test_the_deadline_stops_the_search():
    impossible = Task([Example(([1, 2],), [2]), Example(([1, 2],), [3])])
    assert search(impossible, 10**9, seconds=0).calls == 0
    found = search(impossible, 10**9, seconds=0.2)
    assert found.program is None and 0 < found.calls < 10**9 and found.seconds < 5


@pytest.mark.parametrize("subgoals", [0, 2])
def test_inconsistent_examples_end_with_no_program(subgoals):
    """The same inputs with two different outputs: no program fits; the budget is spent."""
    impossible = Task([Example(([1, 2],), [2, 1]), Example(([1, 2],), [3, 1])])
    found = search(impossible, 150, subgoals=subgoals)
    assert found.program is None and found.calls == 150 and found.path == []


@pytest.mark.parametrize(
    "fn, op",
    [
        (lambda xs: sorted(xs)[::-1], "REVERSE"),
        (lambda xs: [x + 1 for x in sorted(xs)], "MAP (+1)"),
    ],
)
def test_a_program_can_end_with_its_sub_goals_op(fn, op):
    task = task_of(fn)
    problem = problem_of(L, task)
    found = search(task, 2000, subgoals=8)
    assert found.program is not None and fits(L, found.program, task.examples)
    for goal in found.goals[1:]:  # each sub-goal turns into the outputs by its op
        values, valid = L.apply(goal.finish, [goal.values])
        assert valid.all() and values.key() == problem.output.key()
    assert op in [L.ops[g.finish].name for g in found.goals[1:]]
    forced = run_search(task, uniform_guide(True), 2000, subgoals=8)
    assert fits(L, forced.program, task.examples)
    goal = forced.goals[forced.path[-1].goal]
    assert goal.finish is not None and forced.program.statements[-1].op == goal.finish
    assert len(forced.path) == len(forced.program)  # the path ends at the sub-goal


def test_goals_share_simulator_calls():
    """A program simulated towards one goal costs no call towards another: with the goal one
    statement away, searching six sub-goals too costs exactly the calls of the goal alone."""
    task = task_of(sorted)
    alone = run_search(task, uniform_guide(), 1000, subgoals=0, pops=1)
    shared = run_search(task, uniform_guide(), 1000, subgoals=8, pops=1)
    assert len(shared.goals) == 7 and len(alone.goals) == 1
    assert shared.program == alone.program and shared.calls == alone.calls
    assert len(shared.tried) > 3 * len(alone.tried)
    # with the net's ordering too: one call per distinct program tried
    found = search(task_of(lambda xs: sorted(xs)[::-1]), 2000, subgoals=8, pops=1)
    distinct = {t.node.program.then(t.node.statement(t.rank)).statements for t in found.tried}
    finishing = int(found.path[-1].goal != 0)
    assert found.calls == len(distinct) + finishing < len(found.tried)


@cache
def fixed_tasks():
    rng = np.random.default_rng(6)
    return [generate(L, length, rng) for length in (1, 1, 2, 2, 2, 2, 3, 3)]


def trace_of(founds):
    """All that a batch of searches did: programs, calls, skips, and each tried edit."""
    return [
        (
            f.program,
            f.calls,
            f.skipped,
            [(t.node.program, t.rank, t.outcome, t.node.goal) for t in f.tried],
        )
        for f in founds
    ]


def run_fixed(**settings):
    founds, _ = solve(L, fresh_net(), fixed_tasks(), SearchSettings(**settings), 300)
    for task, found in zip(fixed_tasks(), founds, strict=True):
        assert found.program is None or fits(L, found.program, task.examples)
    return founds


def test_similarity_off_changes_only_the_order():
    """Without the similarity metric the priority is the policy's alone: exactly the search
    with the metric weighted 0, and a different order than with it."""
    off = run_fixed(similarity=False)
    assert trace_of(off) == trace_of(run_fixed(value_weight=0.0))
    on = run_fixed()
    assert trace_of(on) != trace_of(off)
    assert sum(f.program is not None for f in off) >= 4


def test_forward_model_off_skips_nothing_and_changes_nothing_else():
    off = run_fixed(forward_model=False)
    assert all(f.skipped == 0 for f in off)
    assert all((t.node.advice.new == 1).all() for f in off for t in f.tried)
    zero = run_fixed(forward_threshold=0.0)
    assert all(f.skipped == 0 for f in zero)
    assert trace_of(zero) == trace_of(off)
    on = run_fixed()  # the head runs: its chances are not all 1
    assert any((t.node.advice.new < 1).any() for f in on for t in f.tried)
    judged = run_fixed(forward_threshold=1.0)  # only edits it never judged are simulated
    assert all(f.skipped > 0 for f in judged)
    assert all(t.node.advice.new[t.rank] == 1 for f in judged for t in f.tried)


def test_subgoals_off_is_one_goal():
    for found in run_fixed(subgoals=0):
        assert len(found.goals) == 1 and found.goals[0].finish is None
        assert all(t.node.goal == 0 for t in found.tried)


def test_repeated_values_never_become_states():
    """Each tried edit's outcome is what the simulator gives: a value a variable already has
    is REPEAT and no state; a NEW value makes a state unless one had the same set of values."""
    task = task_of(lambda xs: xs[::-1], [sorted(xs) for xs in LISTS])  # SORT a repeats a
    simulator = Simulator(L)
    outcomes = {INVALID: 0, REPEAT: 0, NEW: 0}
    dropped = 0
    for found in [search(task, 300), *run_fixed()]:
        seen = set()
        for t in found.tried:
            if t.node.parent is None:
                seen.add(signature(t.node.env, t.node.goal))
            (value,) = simulator.extend([(t.node.env, t.node.statement(t.rank))])
            if value is None:
                expected = INVALID
            elif any(Simulator.equals(value, x) for x in t.node.env):
                expected = REPEAT
            else:
                expected = NEW
            assert t.outcome == expected
            outcomes[expected] += 1
            if expected != NEW:
                assert t.child is None
                continue
            key = signature([*t.node.env, value], t.node.goal)
            if t.child is None:  # another state already holds these values
                assert key in seen
                dropped += 1
            else:
                assert key not in seen
                seen.add(key)
    assert min(outcomes.values()) > 0 and dropped > 0
