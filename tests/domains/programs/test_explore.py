"""Exploring rollouts: random programs over a task's own inputs, run to the end in the
simulator (their calls counted), the same for the same task in any process, and distilled in
hindsight towards their own outputs."""

from __future__ import annotations

import numpy as np
import torch

from ida.core.engine import Engine
from ida.domains.programs.amplify import problem_of, solve, to_rows
from ida.domains.programs.config import configure
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.explore import rollouts, seed_of
from ida.domains.programs.job import make_net
from ida.domains.programs.search import SearchSettings, path_to
from ida.domains.programs.simulator import Simulator
from ida.domains.programs.tasks import generate, trace


def tasks(n=3, length=3, seed=0):
    rng = np.random.default_rng(seed)
    return [generate(L, length, rng) for _ in range(n)]


def test_rollouts_are_valid_programs_over_the_tasks_inputs_with_their_values():
    task = tasks(1)[0]
    problem = problem_of(L, task)
    simulator = Simulator(L)
    (ends,) = Engine().run([rollouts(problem, L, simulator.extend, 40, 3, seed_of(task))])
    assert ends and simulator.calls <= 40 * 3
    for node in ends:
        program = node.program
        assert len(program) == 3 and all(program.used())
        assert program.inputs == tuple(v.type for v in problem.inputs)
        assert [n.program for n in path_to(node)][0].statements == ()
        for i, example in enumerate(task.examples):  # the values are the program's trace
            want = trace(L, program, example.inputs)
            got = L.from_values(node.env[-1].rows([i]))[0]
            assert want is not None and got == want[-1]
    (again,) = Engine().run([rollouts(problem, L, Simulator(L).extend, 40, 3, seed_of(task))])
    assert [n.program for n in again] == [n.program for n in ends]


def test_solve_counts_the_rollouts_calls_and_distils_them_in_hindsight():
    torch.manual_seed(0)
    net = make_net(configure("programs", {"net": {"width": 16}, "device": "cpu"}))
    work = tasks()
    plain, counts = solve(L, net, work, SearchSettings(), 200)
    explored, more = solve(L, net, work, SearchSettings(), 200, explore=32)
    assert all(not f.explored for f in plain) and any(f.explored for f in explored)
    assert [f.program for f in plain] == [f.program for f in explored]  # searches unchanged
    assert more["simulator_calls"] > counts["simulator_calls"]
    rng = np.random.default_rng(0)
    without = to_rows(L, explored, rng, 11, 0, 0, 0, 0)
    rows = to_rows(L, explored, np.random.default_rng(0), 11, 0, 0, 0, 1000)
    n = 0 if without is None else len(without)
    assert len(rows) > n and (rows.w_policy == 1).all() and (rows.label == 1).all()
