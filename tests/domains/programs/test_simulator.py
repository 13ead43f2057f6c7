from __future__ import annotations

import random

import numpy as np
import pytest

from ida.domains.programs.deepcoder import DEEPCODER, INT, LIST
from ida.domains.programs.language import Program, Statement, Values
from ida.domains.programs.simulator import Invalid, Simulator, check_program, run, same
from ida.domains.programs.testing import random_program

L = DEEPCODER
PROGRAM = L.parse("a <- [int]; b <- int; c <- SORT a; d <- TAKE b c; e <- MAP (*2) d")
EXAMPLES = [[[3, 1, 2], 2], [[5, -1], 0], [[7], 4]]


def _inputs(program: Program, examples: list[list]) -> list[Values]:
    return [L.to_values(t, [e[i] for e in examples]) for i, t in enumerate(program.inputs)]


def _random_examples(rng: random.Random, program: Program) -> list[list]:
    def value(type_: str):
        if type_ == INT:
            return rng.randint(-2, 6)
        return [rng.randint(-12, 12) for _ in range(rng.randint(0, 20))]

    return [[value(t) for t in program.inputs] for _ in range(rng.randint(1, 6))]


def test_run():
    outputs, traces = run(L, PROGRAM, EXAMPLES)
    assert outputs == [[2, 4], [], [14]]
    assert traces == [
        [[3, 1, 2], 2, [1, 2, 3], [1, 2], [2, 4]],
        [[5, -1], 0, [-1, 5], [], []],
        [[7], 4, [7], [7], [14]],
    ]


def test_run_invalid():
    program = L.parse("a <- [int]; b <- SORT a; c <- HEAD b")
    with pytest.raises(Invalid, match=r"statement 1 \(HEAD\) is invalid on example 1"):
        run(L, program, [[[1]], [[]]])


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ([[[1], [2]]], "example 0, input 1: expected int, got list"),
        ([[[1], 2], [[1]]], "example 1: 1 inputs, the program takes 2"),
        ([[[1], 300]], "out of range"),
    ],
)
def test_run_bad_inputs(examples, message):
    with pytest.raises(ValueError, match=message):
        run(L, PROGRAM, examples)


def test_check_program():
    with pytest.raises(ValueError, match="no statements"):
        check_program(L, Program((LIST,)))
    with pytest.raises(ValueError, match="not defined yet"):
        check_program(L, Program((LIST,), (Statement(L.op_index("SORT"), (1,)),)))
    with pytest.raises(ValueError, match="TAKE expects"):
        check_program(L, Program((LIST,), (Statement(L.op_index("TAKE"), (0, 0)),)))


def test_extend_equals_run():
    rng = random.Random(0)
    tasks = []
    for _ in range(150):
        program = random_program(L, rng, rng.randint(1, 6))
        examples = _random_examples(rng, program)
        tasks.append((program, examples, _inputs(program, examples)))
    sim = Simulator(L)
    envs = [list(inputs) for _, _, inputs in tasks]
    alive = list(range(len(tasks)))
    step, expected_calls, checked_invalid = 0, 0, 0
    while alive:
        items = [(envs[t], tasks[t][0].statements[step]) for t in alive]
        results = sim.extend(items)
        expected_calls += len(items)
        assert sim.calls == expected_calls
        still = []
        for t, result in zip(alive, results, strict=True):
            program, examples, _ = tasks[t]
            prefix = Program(program.inputs, program.statements[: step + 1])
            try:
                outputs, _ = run(L, prefix, examples)
            except Invalid:
                assert result is None
                checked_invalid += 1
                continue
            assert result is not None and L.from_values(result) == outputs
            envs[t].append(result)
            if step + 1 < len(program):
                still.append(t)
        alive, step = still, step + 1
    assert checked_invalid > 5


def test_execute_equals_run_and_caches():
    sim = Simulator(L)
    inputs = _inputs(PROGRAM, EXAMPLES)
    env = sim.execute(PROGRAM, inputs, key=0)
    _, traces = run(L, PROGRAM, EXAMPLES)
    assert [L.from_values(v) for v in env] == [list(col) for col in zip(*traces, strict=True)]
    assert sim.calls == 3
    sim.execute(PROGRAM, inputs, key=0)
    assert sim.calls == 3
    replaced = Program(
        PROGRAM.inputs, (*PROGRAM.statements[:-1], Statement(L.op_index("SUM"), (3,)))
    )
    assert L.from_values(sim.execute(replaced, inputs, key=0)[-1]) == [3, 0, 7]
    assert sim.calls == 4
    deleted = Program(PROGRAM.inputs, PROGRAM.statements[:-1])
    assert len(sim.execute(deleted, inputs, key=0)) == 4
    assert sim.calls == 4
    sim.execute(PROGRAM, inputs, key=1)
    assert sim.calls == 7


def test_execute_invalid_prefix_is_cached():
    sim = Simulator(L)
    program = L.parse("a <- [int]; b <- HEAD a; c <- TAKE b a")
    inputs = _inputs(program, [[[1, 2]], [[]]])
    assert sim.execute(program, inputs, key="t") is None
    assert sim.calls == 1
    longer = program.then(Statement(L.op_index("SORT"), (2,)))
    assert sim.execute(longer, inputs, key="t") is None
    assert sim.calls == 1


def test_execute_cache_size():
    sim = Simulator(L, cache_size=1)
    inputs = _inputs(PROGRAM, EXAMPLES)
    sim.execute(PROGRAM, inputs, key=0)
    sim.execute(Program(PROGRAM.inputs, PROGRAM.statements[:2]), inputs, key=0)
    assert sim.calls == 5


def test_execute_checks_input_types():
    with pytest.raises(ValueError, match="inputs of types"):
        Simulator(L).execute(PROGRAM, _inputs(PROGRAM, EXAMPLES)[:1], key=0)


def test_same():
    a = L.to_values(LIST, [[1, 2], []])
    b = Values(LIST, a.data.copy(), a.lengths.copy())
    b.data[1, 5] = 9  # past the row's end: not part of the value
    assert same(a, b) and Simulator.equals(a, b)
    b.data[0, 1] = 3
    assert not same(a, b)
    assert not same(a, L.to_values(LIST, [[1, 2], [0]]))
    assert not same(a, L.to_values(LIST, [[1, 2]]))
    assert not same(L.to_values(INT, [0, 0]), Values(LIST, np.zeros((2, 20), np.int64), b.lengths))
    assert same(L.to_values(INT, [4, 5]), L.to_values(INT, [4, 5]))
    assert not same(L.to_values(INT, [4, 5]), L.to_values(INT, [4, 6]))
