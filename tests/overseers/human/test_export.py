"""The export of recorded steps, and reading it back as H's transcript."""

import json

import pytest

from ida.core.errors import IdaError
from ida.overseers.human.export import FIELDS, export_lines, read_steps
from ida.overseers.human.people import add_person, person_by_token
from ida.overseers.human.protocol import Post, context_of
from ida.overseers.human.queue import StepQueue

FACTS = [[1, 2, 3], [4, 5, 6]]


def answer_all(queue, who, move_of):
    while (held := queue.claim(who)) is not None:
        queue.submit(who, held.assignment, held.fence, move_of(held))


@pytest.fixture
def recorded(engine):
    """Two runs' steps, answered: the first run's by ada, then the second's by bob."""
    queue = StepQueue(engine)
    ada = person_by_token(engine, add_person(engine, "ada")).id
    bob = person_by_token(engine, add_person(engine, "bob")).id
    one = queue.run_id("one", "union_find", 8)
    two = queue.run_id("two", "shortest_path", 6)
    queue.post(one, [Post(context_of(FACTS, [2, 7], [])), Post(context_of(FACTS, [1, 3], []))])
    answer_all(queue, ada, lambda held: {"answer": held.context["question"][1]})
    queue.post(two, [Post(context_of(FACTS, [0, 5], [([0, 2], 4)]))])
    answer_all(queue, bob, lambda held: {"ask": [[0, 1], [1, 5]]})
    return engine


def test_export_round_trips_through_read_steps(recorded, tmp_path):
    lines = list(export_lines(recorded))
    assert len(lines) == 3 and all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    path = tmp_path / "steps.jsonl"
    path.write_text("".join(lines) + "\n")  # a blank line is skipped
    records = list(read_steps(path))
    assert records == [json.loads(line) for line in lines]
    assert [(r["run"], r["task"], r["size"], r["person"]) for r in records] == [
        ("one", "union_find", 8, "ada"),
        ("one", "union_find", 8, "ada"),
        ("two", "shortest_path", 6, "bob"),
    ]
    assert {(tuple(r["question"]), json.dumps(r["move"])) for r in records[:2]} == {
        ((2, 7), '{"answer": 7}'),
        ((1, 3), '{"answer": 3}'),
    }
    last = records[2]
    assert last["facts"] == FACTS and last["answered"] == [[[0, 2], 4]]
    assert last["move"] == {"ask": [[0, 1], [1, 5]]}
    assert all(set(FIELDS) <= set(r) and isinstance(r["at"], float) for r in records)
    assert [r["at"] for r in records] == sorted(r["at"] for r in records)


def test_export_of_one_run(recorded):
    assert [json.loads(line)["run"] for line in export_lines(recorded, run="two")] == ["two"]
    assert len(list(export_lines(recorded, run="one"))) == 2
    assert list(export_lines(recorded, run="none")) == []


def one_line_error(path, match):
    with pytest.raises(IdaError) as caught:
        list(read_steps(path))
    message = str(caught.value)
    assert "\n" not in message and match in message, message
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


def test_read_steps_names_what_is_wrong(tmp_path):
    good = {"task": "t", "size": 4, "facts": [], "question": [1], "answered": [], "move": {}}
    path = tmp_path / "steps.jsonl"
    path.write_text(json.dumps(good) + "\n{not json\n")
    one_line_error(path, f"{path}:2: not a JSON line")
    path.write_bytes(json.dumps(good).encode() + b"\n\xff\xfe\n")
    one_line_error(path, f"{path}:2: not a JSON line")
    partial = {k: v for k, v in good.items() if k != "move"}
    path.write_text(f"\n{json.dumps(good)}\n{json.dumps(partial)}\n")
    one_line_error(path, f"{path}:3: not a recorded step (missing move)")
    path.write_text("[1, 2]\n")
    one_line_error(path, f"{path}:1: not a recorded step (missing task)")
    one_line_error(tmp_path / "absent.jsonl", "no export file")
    one_line_error(tmp_path, "no export file")  # a directory
