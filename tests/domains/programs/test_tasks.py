"""Generated tasks: the program fits, has its length, no dead code, no redundant variable and no
constant output; seeds repeat; the train/test split goes by behaviour; JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ida.domains.programs import tasks
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.tasks import Example, Task, fits, freeze, generate, signature, split_of


def variables(program, examples):
    """Each variable's values on the examples (a column of frozen values)."""
    rows = [tasks.trace(L, program, e.inputs) for e in examples]
    return [tuple(freeze(row[v]) for row in rows) for v in range(len(rows[0]))]


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5])
def test_generated_tasks_are_sound(length):
    rng = np.random.default_rng(length)
    for _ in range(40):
        task = generate(L, length, rng)
        program = task.program
        assert task.length == len(program) == length
        assert len(task.examples) == 5 and len(task.held_out) == 2
        assert fits(L, program, task.examples) and fits(L, program, task.held_out)
        assert all(program.used())
        read = {a for s in program.statements for a in s.args}
        assert set(range(len(program.inputs))) <= read  # every input is read
        assert "list" in program.inputs and 1 <= len(program.inputs) <= 3
        assert task.input_types(L) == program.inputs
        everything = task.examples + task.held_out
        assert len({tuple(freeze(v) for v in e.inputs) for e in everything}) == 7
        for e in everything:
            assert all(L.check(v) for v in (*e.inputs, e.output))
            assert all(len(v) >= 1 for v in e.inputs if isinstance(v, list))
        columns = variables(program, task.examples)
        assert len(set(columns)) == len(columns)  # no two variables equal on every example
        assert len(set(columns[-1])) > 1  # the output is not constant


def test_generate_is_deterministic_for_a_seed():
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [tasks.to_json(generate(L, 3, rng), L) for _ in range(20)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_generate_respects_its_arguments():
    task = generate(L, 2, np.random.default_rng(0), examples=3, held_out=0)
    assert len(task.examples) == 3 and task.held_out == []
    single = generate(L, 2, np.random.default_rng(0), examples=1, held_out=0)
    assert len(single.examples) == 1 and fits(L, single.program, single.examples)
    with pytest.raises(ValueError, match="split"):
        generate(L, 2, np.random.default_rng(0), split="dev")


def test_the_split_goes_by_behaviour_and_both_sides_are_used():
    rng = np.random.default_rng(0)
    drawn = [generate(L, length, rng, split=None) for length in (2, 3) for _ in range(150)]
    sides = {split_of(signature(L, t.program)) for t in drawn}
    assert sides == {"train", "test"}
    train = [generate(L, 3, rng, split="train") for _ in range(60)]
    test = [generate(L, 3, rng, split="test") for _ in range(15)]
    train_sigs = {signature(L, t.program) for t in train}
    test_sigs = {signature(L, t.program) for t in test}
    assert {split_of(s) for s in train_sigs} == {"train"}
    assert {split_of(s) for s in test_sigs} == {"test"}
    assert not train_sigs & test_sigs


def test_equivalent_programs_share_a_signature():
    same = [
        ("a <- [int]; b <- MAP (*2) a", "a <- [int]; b <- ZIPWITH (+) a a"),
        ("a <- [int]; b <- MAP (*4) a", "a <- [int]; b <- MAP (*2) a; c <- MAP (*2) b"),
        ("a <- [int]; b <- HEAD a", "a <- [int]; b <- REVERSE a; c <- LAST b"),
    ]
    for one, other in same:
        assert signature(L, L.parse(one)) == signature(L, L.parse(other))
    differ = ["a <- [int]; b <- MAP (*2) a", "a <- [int]; b <- MAP (*3) a"]
    assert signature(L, L.parse(differ[0])) != signature(L, L.parse(differ[1]))
    assert split_of(signature(L, L.parse(same[0][0]))) in ("train", "test")


def test_a_program_valid_on_too_few_probes_is_hashed_by_its_text(monkeypatch):
    monkeypatch.setattr(tasks, "MIN_VALID_PROBES", tasks.N_PROBES + 1)
    one, other = (
        L.parse(p) for p in ("a <- [int]; b <- MAP (*2) a", "a <- [int]; b <- ZIPWITH (+) a a")
    )
    assert signature(L, one) != signature(L, other)


def test_probes_are_fixed_and_valid():
    first = tasks.probes(L, ("int", "list"))
    tasks._PROBES.clear()
    assert tasks.probes(L, ("int", "list")) == first
    assert len(first) == tasks.N_PROBES
    assert all(L.check(v) for row in first for v in row)


def test_held_out_set_is_fixed_distinct_and_held_out():
    tasks_ = tasks.held_out_set(L, [1, 3], per_length=6, seed=0)
    again = tasks.held_out_set(L, [1, 3], per_length=6, seed=0)
    assert [tasks.to_json(t, L) for t in tasks_] == [tasks.to_json(t, L) for t in again]
    sigs = [signature(L, t.program) for t in tasks_]
    assert len(set(sigs)) == len(sigs)
    assert {split_of(s) for s in sigs} == {"test"}
    lengths = [t.length for t in tasks_]
    assert lengths.count(3) == 6 and 1 <= lengths.count(1) <= 6  # few length-1 programs exist


def test_fits_checks_outputs_arity_and_types():
    program = L.parse("a <- int; b <- [int]; c <- TAKE a b")
    good = [Example((2, [5, 6, 7]), [5, 6]), Example((0, [1]), [])]
    assert fits(L, program, good)
    assert not fits(L, program, [Example((2, [5, 6, 7]), [5, 7])])
    assert not fits(L, program, [Example(([5, 6, 7],), [5, 6])])
    assert not fits(L, program, [Example(([5, 6, 7], 2), [5, 6])])
    assert not fits(L, L.parse("a <- [int]; b <- HEAD a"), [Example(([],), 0)])  # invalid


def test_json_round_trips():
    task = generate(L, 4, np.random.default_rng(3))
    data = json.loads(json.dumps(tasks.to_json(task, L)))
    assert set(data) == {"examples", "held_out", "program"}
    back = tasks.from_json(data, L)
    assert back == task
    plain = tasks.to_json(task)
    assert "program" not in plain and tasks.from_json(plain, L).program is None
    assert Task(back.examples).length is None


def test_degenerate_rows_are_recognised():
    rows = [[[1, 2], [1, 2], 3], [[3], [3], 4]]
    assert tasks._degenerate(rows)  # two equal variables
    assert tasks._degenerate([[[1], 5], [[2], 5]])  # a constant output
    assert not tasks._degenerate([[[1], 1], [[2, 3], 2]])


def test_generation_gives_up_when_no_program_can_be_drawn(monkeypatch):
    monkeypatch.setattr(tasks, "SIGNATURES", (("int",),))  # no op reads only ints
    monkeypatch.setattr(tasks, "MAX_PROGRAMS", 50)
    with pytest.raises(RuntimeError, match="no program of length 2"):
        generate(L, 2, np.random.default_rng(0), split=None)
