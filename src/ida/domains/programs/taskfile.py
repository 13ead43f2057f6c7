"""Reading tasks a person gives: JSON lines, one task a line.

A line is ``{"examples": [{"inputs": [[1, 2, 3], 4], "output": [2, 3]}, ...]}`` with optional
``"held_out"`` examples in the same form (checked against found programs, not shown to the
search, not counted towards ``MAX_EXAMPLES``) and an optional ``"program"`` in the language's
syntax. Blank lines are skipped but counted. Each line gives a ``Task`` or a one-line error that
names it; examples that no program fits are not an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ida.core.errors import IdaError
from ida.domains.programs.encode import MAX_EXAMPLES
from ida.domains.programs.language import Language
from ida.domains.programs.tasks import Example, Task

KEYS = ("examples", "held_out", "program")


def _a(type_: str) -> str:
    return f"an {type_}" if type_[0] in "aeiou" else f"a {type_}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _example(
    language: Language, data: Any, name: str, first: tuple[str, ...] | None
) -> tuple[Example, tuple[str, ...]]:
    """One example and its types (inputs, then output); ``first`` is example 1's types."""
    if not isinstance(data, dict):
        raise ValueError(f"{name}: must be an object with inputs and output")
    unknown = sorted(set(data) - {"inputs", "output"})
    if unknown:
        raise ValueError(f"{name}: unknown key {unknown[0]!r} (inputs, output)")
    if "inputs" not in data:
        raise ValueError(f"{name}: no inputs")
    if "output" not in data:
        raise ValueError(f"{name}: no output")
    inputs = data["inputs"]
    if not isinstance(inputs, list):
        raise ValueError(f"{name}: inputs must be a list")
    if not inputs:
        raise ValueError(f"{name}: no inputs (inputs is empty)")
    if first is not None and len(inputs) != len(first) - 1:
        raise ValueError(
            f"{name} has {_plural(len(inputs), 'input')}, example 1 has {len(first) - 1}"
        )
    types = []
    for i, value in enumerate([*inputs, data["output"]]):
        what = "output" if i == len(inputs) else f"input {i + 1}"
        try:
            types.append(language.check(value))
        except ValueError as e:
            raise ValueError(f"{name}: {what}: {e}") from None
        if first is not None and types[-1] != first[i]:
            raise ValueError(f"{name}: {what} is {_a(types[-1])}, example 1's is {_a(first[i])}")
    return Example(tuple(inputs), data["output"]), tuple(types)


def parse_task(data: Any, language: Language) -> Task:
    """A checked task from one line's JSON value; ``ValueError`` saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a task must be a JSON object")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} ({', '.join(KEYS)})")
    shown, held = data.get("examples"), data.get("held_out", [])
    for key, value in (("examples", shown), ("held_out", held)):
        if value is not None and not isinstance(value, list):
            raise ValueError(f"{key} must be a list")
    if not shown:
        raise ValueError("no examples")
    if len(shown) > MAX_EXAMPLES:
        raise ValueError(f"{len(shown)} examples, at most {MAX_EXAMPLES}")
    examples, first = [], None
    for i, item in enumerate(shown):
        example, types = _example(language, item, f"example {i + 1}", first)
        examples.append(example)
        first = first or types
    held_out = [
        _example(language, item, f"held-out example {i + 1}", first)[0]
        for i, item in enumerate(held)
    ]
    program = None
    if data.get("program") is not None:
        if not isinstance(data["program"], str):
            raise ValueError("program must be a string")
        try:
            program = language.parse(data["program"])
        except ValueError as e:
            raise ValueError(f"program: {e}") from None
        if program.inputs != first[:-1]:
            raise ValueError(
                f"program: takes ({', '.join(program.inputs)}), "
                f"the examples give ({', '.join(first[:-1])})"
            )
        if program.types(language)[-1] != first[-1]:
            raise ValueError(
                f"program: returns {_a(program.types(language)[-1])}, "
                f"example 1's output is {_a(first[-1])}"
            )
    return Task(examples, held_out, program)


def read_tasks(path: str | Path, language: Language) -> list[tuple[int, Task | str]]:
    """The tasks of a JSON-lines file: per non-blank line its number and a ``Task`` or a
    one-line error ``"line N: ..."``. ``IdaError`` if the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise IdaError(f"cannot read tasks from {path}: {e}") from None
    results: list[tuple[int, Task | str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            results.append((number, f"line {number}: not JSON ({e})"))
            continue
        try:
            results.append((number, parse_task(data, language)))
        except ValueError as e:
            results.append((number, f"line {number}: {e}"))
    return results
