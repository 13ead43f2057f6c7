"""The programs domain's commands through the ``ida`` entry point, on one tiny trained run:
solve (a file of tasks, one line malformed), run (a program on one example), show and eval,
and their one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rich.console import Console

from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.job import ProgramsJob
from ida.domains.programs.tasks import Example, fits
from ida.domains.programs.testing import TINY
from ida.testing import one_line_error, run_ida

LISTS = [[3, 1, 2], [5, -2, 7, 0], [1], [4, 4, 1, 9, 2], [0, -3], [9, -9, 4], [2, 2, 0, -1]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ida.core.runs.run import train
    from ida.domains.programs.config import configure

    path = tmp_path_factory.mktemp("programs") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProgramsJob, "plot", lambda self, records, path: None)
        train(
            configure("programs", {**TINY, "steps": 3, "steps_per_round": 3}),
            path,
            console=Console(quiet=True),
        )
    return path


def sorted_task():
    """SORT of a list: five shown examples and two held out."""
    examples = [{"inputs": [xs], "output": sorted(xs)} for xs in LISTS]
    return {"examples": examples[:5], "held_out": examples[5:]}


@pytest.fixture
def tasks(tmp_path):
    """A file of a good task, a malformed one (an int in a list of ints is a string) and a
    blank line."""
    bad = {"examples": [{"inputs": [[1, "2"]], "output": [1, 2]}]}
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(sorted_task()) + "\n" + json.dumps(bad) + "\n\n")
    return path


def test_commands_import_nothing_heavy():
    code = (
        "import sys, ida.domains.programs.commands; "
        "print(sorted(m for m in ('torch', 'ida.domains.programs.search') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_solve_prints_the_good_lines_program_and_names_the_bad_line(
    monkeypatch, capsys, run, tasks
):
    code, out, err = run_ida(monkeypatch, capsys, "solve", run, tasks, "--budget", 500)
    one_line_error(code, err, f"{tasks}: line 2: example 1: input 1")
    (line,) = out.splitlines()
    assert line.startswith("line 1: a <- [int]; b <- ")
    assert "calls" in line and line.endswith(", fits held-out]")
    program = L.parse(line.removeprefix("line 1: ").split("   [")[0])
    shown = [Example((xs,), sorted(xs)) for xs in LISTS]
    assert fits(L, program, shown)


def test_solve_as_json_lines(monkeypatch, capsys, run, tasks, tmp_path):
    code, out, err = run_ida(monkeypatch, capsys, "solve", run, tasks, "--budget", 500, "--json")
    assert code == 2 and err.count("\n") == 1
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["line"] == 1 and row["fits_held_out"] is True and 0 < row["calls"] <= 500
    assert fits(L, L.parse(row["program"]), [Example((xs,), sorted(xs)) for xs in LISTS])
    # a task no program fits within the budget, with no held-out examples
    hard = tmp_path / "hard.jsonl"
    impossible = {
        "examples": [{"inputs": [[1, 2]], "output": 1}, {"inputs": [[1, 2]], "output": 2}]
    }
    hard.write_text(json.dumps(impossible) + "\n")
    code, out, err = run_ida(monkeypatch, capsys, "solve", run, hard, "--budget", 30, "--json")
    assert code == 0 and err == ""
    assert json.loads(out) == {**json.loads(out), "line": 1, "program": None, "calls": 30}
    assert json.loads(out)["fits_held_out"] is None
    code, out, _ = run_ida(monkeypatch, capsys, "solve", run, hard, "--budget", 30)
    assert code == 0 and out.startswith("line 1: not found within budget (30 calls, ")


@pytest.mark.parametrize(
    "args, match",
    [
        (["--budget", 0], "--budget must be at least 1"),
        (["--seconds", 0], "--seconds must be positive"),
    ],
)
def test_solve_bad_options(monkeypatch, capsys, run, tasks, args, match):
    code, _, err = run_ida(monkeypatch, capsys, "solve", run, tasks, *args)
    one_line_error(code, err, match)


def test_solve_from_a_missing_file(monkeypatch, capsys, run, tmp_path):
    code, _, err = run_ida(monkeypatch, capsys, "solve", run, tmp_path / "nothing.jsonl")
    one_line_error(code, err, "cannot read tasks from")


def test_run_prints_the_output_and_with_trace_every_variable(monkeypatch, capsys):
    program = "a <- [int]; b <- int; c <- TAKE b a; d <- SORT c; e <- SUM d"
    code, out, err = run_ida(monkeypatch, capsys, "run", program, "--inputs", "[[5, 3, 9, 1], 3]")
    assert code == 0 and err == "" and out == "17\n"
    code, out, err = run_ida(
        monkeypatch, capsys, "run", program, "--inputs", "[[5, 3, 9, 1], 3]", "--trace"
    )
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "a = [5, 3, 9, 1]",
        "b = 3",
        "c = [5, 3, 9]",
        "d = [3, 5, 9]",
        "e = 17",
    ]


@pytest.mark.parametrize(
    "program, inputs, match",
    [
        ("a <- [int]; b <- SORTED a", "[[1]]", "program: line 2: unknown function 'SORTED'"),
        ("a <- [int]; b = SORT a", "[[1]]", "program: line 2: expected 'name <- ...'"),
        ("a <- [int]; b <- HEAD c", "[[1]]", "program: line 2: 'c' is not defined"),
        ("a <- int; b <- SORT a", "[3]", "program: line 2: SORT expects (list), got (int)"),
        ("a <- [int]; b <- SORT a", "[[1, 2]", "--inputs is not JSON"),
        ("a <- [int]; b <- SORT a", '{"a": [1]}', "--inputs must be a JSON list"),
        ("a <- [int]; b <- SORT a", "[[1, 999]]", "list element 999 out of range"),
        ("a <- [int]; b <- SORT a", "[3]", "example 0, input 0: expected list, got int"),
        ("a <- [int]; b <- SORT a", "[[1], [2]]", "example 0: 2 inputs, the program takes 1"),
        ("a <- [int]; b <- FILTER (<0) a; c <- HEAD b", "[[1]]", "statement 1 (HEAD) is invalid"),
    ],
)
def test_run_bad_input_is_a_one_line_error(monkeypatch, capsys, program, inputs, match):
    code, _, err = run_ida(monkeypatch, capsys, "run", program, "--inputs", inputs)
    one_line_error(code, err, match)


def test_show_and_eval(monkeypatch, capsys, run):
    code, out, err = run_ida(monkeypatch, capsys, "show", run, "--seed", 1)
    assert code == 0, err
    assert "a held-out task of length 2 (seed 1)" in out and "edits simulated" in out
    assert "found: " in out or "no program found within 40 calls" in out
    code, out, err = run_ida(monkeypatch, capsys, "show", run, "--level", 1)
    assert code == 0, err
    assert "a held-out task of length 1" in out and "found: " in out
    assert "(fits the held-out examples: True)" in out
    code, out, err = run_ida(monkeypatch, capsys, "eval", run, "--per-level", 2, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "programs" and result["step"] == 3 and result["budget"] == 40
    assert 0 <= result["accuracy"] <= 1 and len(result["accuracy_by_level"]) == 2
    assert {"solved_T1", "solved_T2", "fits_held_out", "calls_per_solved"} <= result.keys()
    code, out, err = run_ida(monkeypatch, capsys, "eval", run, "--per-level", 2)
    assert code == 0, err
    assert "programs, step 3" in out and "accuracy" in out and "calls_per_solved" in out
