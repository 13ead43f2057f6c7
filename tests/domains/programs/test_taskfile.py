"""Reading a task file: good lines become tasks, each malformed line one error naming its line
(blank lines counted), an unreadable file one ``IdaError``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ida.core.errors import IdaError
from ida.domains.programs import tasks
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.taskfile import MAX_EXAMPLES, read_tasks
from ida.domains.programs.tasks import Example, Task

GOOD = {
    "examples": [{"inputs": [[1, 2, 3], 2], "output": [1, 2]}, {"inputs": [[5], 0], "output": []}],
    "held_out": [{"inputs": [[7, 8], 1], "output": [7]}],
}


def example(inputs, output):
    return {"inputs": inputs, "output": output}


def read(tmp_path, *lines):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return [task for _, task in read_tasks(path, L)]


def test_a_good_line_is_a_task(tmp_path):
    (task,) = read(tmp_path, GOOD)
    assert task == Task(
        [Example(([1, 2, 3], 2), [1, 2]), Example(([5], 0), [])], [Example(([7, 8], 1), [7])]
    )
    assert task.input_types(L) == ("list", "int") and task.program is None


def test_a_program_is_parsed_and_checked(tmp_path):
    program = "a <- [int]; b <- int; c <- TAKE b a"
    wrong = "a <- int; b <- [int]; c <- TAKE a b"
    (task, *errors) = read(
        tmp_path,
        {**GOOD, "program": program},
        {**GOOD, "program": wrong},
        {**GOOD, "program": "a <- [int]; b <- int; c <- ACCESS b a"},
        {**GOOD, "program": "a <- [int]; b <- FROB a"},
    )
    assert task.program == L.parse(program) and tasks.fits(L, task.program, task.held_out)
    assert errors[0] == "line 2: program: takes (int, list), the examples give (list, int)"
    assert errors[1] == "line 3: program: returns an int, example 1's output is a list"
    assert errors[2].startswith("line 4: program: line 2: unknown function")


def test_generated_tasks_read_back(tmp_path):
    rng = np.random.default_rng(0)
    made = [tasks.generate(L, 3, rng) for _ in range(5)]
    back = read(tmp_path, *(tasks.to_json(t, L) for t in made))
    assert back == made


def test_each_malformed_line_gives_one_error_naming_it(tmp_path):
    list_int = example([[1, 2], 3], [1])
    lines = [
        GOOD,
        "",
        "{not json",
        {"examples": [{"inputs": 5, "output": 1}]},
        {"examples": [list_int, example([[1]], [1])]},
        {"examples": [example([[1], 300], 1)]},
        {"examples": [example([1, [2]], 1), list_int, example([[1], 2], [1])]},
        {"examples": []},
        {"examples": [list_int] * (MAX_EXAMPLES + 1)},
        {"examples": [example([[1]], [1]), example([[2]], 2)]},
        {"examples": [example([list(range(21))], 1)]},
        {"examples": [list_int], "held_out": [example([[1]], [1])]},
        {"examples": [list_int], "held_out": [example([[1], 2], True)]},
        [1, 2],
        {"examples": [list_int], "heldout": []},
        {"examples": [{"inputs": [[1]]}]},
        {"examples": [example([], 1)]},
        {"examples": {"inputs": [[1]], "output": 1}},
        {},
        "   ",
        GOOD,
    ]
    results = read(tmp_path, *lines)
    assert isinstance(results[0], Task) and isinstance(results[-1], Task)
    errors = results[1:-1]
    assert errors[0].startswith("line 3: not JSON (")
    assert errors[1:] == [
        "line 4: example 1: inputs must be a list",
        "line 5: example 2 has 1 input, example 1 has 2",
        "line 6: example 1: input 2: int 300 out of range [-256, 255]",
        "line 7: example 2: input 1 is a list, example 1's is an int",
        "line 8: no examples",
        f"line 9: {MAX_EXAMPLES + 1} examples, at most {MAX_EXAMPLES}",
        "line 10: example 2: output is an int, example 1's is a list",
        "line 11: example 1: input 1: list of length 21 (at most 20)",
        "line 12: held-out example 1 has 1 input, example 1 has 2",
        "line 13: held-out example 1: output: expected an int or a list of ints, got True",
        "line 14: a task must be a JSON object",
        "line 15: unknown key 'heldout' (examples, held_out, program)",
        "line 16: example 1: no output",
        "line 17: example 1: no inputs (inputs is empty)",
        "line 18: examples must be a list",
        "line 19: no examples",
    ]
    assert all("\n" not in e for e in errors)


def test_held_out_examples_do_not_count_towards_the_limit(tmp_path):
    shown = [example([[i]], [i]) for i in range(MAX_EXAMPLES)]
    (task,) = read(tmp_path, {"examples": shown, "held_out": shown})
    assert len(task.examples) == len(task.held_out) == MAX_EXAMPLES


def test_inconsistent_examples_are_not_an_error(tmp_path):
    (task,) = read(tmp_path, {"examples": [example([[1]], 1), example([[1]], 2)]})
    assert isinstance(task, Task)


def test_an_unreadable_file_is_an_ida_error(tmp_path):
    with pytest.raises(IdaError, match="cannot read tasks"):
        read_tasks(tmp_path / "missing.jsonl", L)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(IdaError, match="cannot read tasks"):
        read_tasks(binary, L)
    assert read(tmp_path, "") == []
