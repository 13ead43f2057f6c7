"""Tasks: input/output examples, generated from random programs or read from a file.

``generate`` draws a random program of an exact length and inputs it is valid on. A program is
redrawn if it has dead code, if two of its variables (inputs included) agree on every shown
example (then a shorter program fits them), or if its output is the same on every shown example.
Inputs the program never reads are dropped from its signature, so every input is read.

Inputs: each example draws a magnitude bound from ``BOUNDS`` (small bounds let programs such as
``MAP (**2)`` or ``SCANL1 (*)`` stay in range); list elements lie in [-bound, bound - 1], list
lengths in 1..``max_len`` (no empty inputs: most programs are invalid on them, and the empty list
still arises inside programs, from FILTER or DROP), int inputs in ``INT_INPUTS``.

Train and test are split by program behaviour, not by task: a program's outputs on fixed probe
inputs of its signature are hashed (sha256), and the program is held out iff the hash is 0 mod
10. Programs that agree on the probes land in the same split. A program valid on fewer than
``MIN_VALID_PROBES`` probes is hashed by its text instead.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ida.domains.programs.language import Language, Program, Statement

SIGNATURES: tuple[tuple[str, ...], ...] = (
    ("list",),
    ("list", "list"),
    ("int", "list"),
    ("list", "int"),
    ("int", "list", "list"),
    ("list", "list", "int"),
)
BOUNDS = (4, 16, 64, 256)
LENGTH_CAPS = (5, 10, 20)  # an example's lists are 1..cap long, cap drawn from these
INT_INPUTS = (-4, 20)
PREFER_UNUSED = 0.8  # the chance a statement reads a variable nothing has read yet
INPUT_TRIES = 10  # input draws a program gets, per example wanted
MAX_PROGRAMS = 200_000  # program draws before ``generate`` gives up
N_PROBES = 32
MIN_VALID_PROBES = 8
TEST_BUCKET = 10  # one program in TEST_BUCKET is held out


@dataclass(frozen=True)
class Example:
    """One example: the input values (ints, lists of ints) and the output value."""

    inputs: tuple
    output: Any


@dataclass
class Task:
    """Shown examples, held-out examples to check a found program, and the generator's
    program (never shown to the search)."""

    examples: list[Example]
    held_out: list[Example] = field(default_factory=list)
    program: Program | None = None

    def input_types(self, language: Language) -> tuple[str, ...]:
        """The types of the first example's inputs."""
        if not self.examples:
            return ()
        return tuple(language.check(v) for v in self.examples[0].inputs)

    @property
    def length(self) -> int | None:
        """The generator's program's length, if there is one."""
        return None if self.program is None else len(self.program)


def freeze(value: Any) -> Any:
    """A hashable, comparable form of a value: lists become tuples."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _plain(value: Any) -> Any:
    """A fresh Python int or list of ints."""
    return [int(x) for x in value] if isinstance(value, (list, tuple)) else int(value)


def trace(language: Language, program: Program, inputs: tuple | list) -> list | None:
    """Every variable's value on one example, inputs first; None if a statement is invalid."""
    values = list(inputs)
    for s in program.statements:
        value = language.evaluate(s.op, [values[a] for a in s.args])
        if value is None:
            return None
        values.append(value)
    return values


def fits(language: Language, program: Program, examples: list[Example]) -> bool:
    """Whether ``program`` takes the examples' inputs and gives each one's output."""
    for example in examples:
        if len(example.inputs) != len(program.inputs):
            return False
        if any(language.check(v) != t for v, t in zip(example.inputs, program.inputs, strict=True)):
            return False
        values = trace(language, program, example.inputs)
        if values is None or freeze(values[-1]) != freeze(example.output):
            return False
    return True


# --- the split ----------------------------------------------------------------------------


class _Stream:
    """A stable pseudo-random stream from sha256, so probes never change with library versions."""

    def __init__(self, seed: str) -> None:
        self.seed, self.counter, self.buffer = seed, 0, []

    def below(self, n: int) -> int:
        if not self.buffer:
            digest = hashlib.sha256(f"{self.seed}:{self.counter}".encode()).digest()
            self.buffer = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]
            self.counter += 1
        return self.buffer.pop() % n


_PROBES: dict[tuple[str, tuple[str, ...]], list[tuple]] = {}


def probes(language: Language, types: tuple[str, ...]) -> list[tuple]:
    """The fixed probe inputs of a signature (the same on every machine and run)."""
    key = (language.name, types)
    if key not in _PROBES:
        stream = _Stream(f"{language.name}/{','.join(types)}")
        rows = []
        for i in range(N_PROBES):
            bound = (2, *BOUNDS)[i % (len(BOUNDS) + 1)]
            cap = min(language.max_len, (3, 8, language.max_len)[i % 3])
            low, high = max(-bound, language.low), min(bound - 1, language.high)
            row = []
            for t in types:
                if t == "int":
                    row.append(INT_INPUTS[0] + stream.below(INT_INPUTS[1] - INT_INPUTS[0] + 1))
                else:
                    n = 1 + stream.below(cap)
                    row.append([low + stream.below(high - low + 1) for _ in range(n)])
            rows.append(tuple(row))
        _PROBES[key] = rows
    return _PROBES[key]


def signature(language: Language, program: Program) -> str:
    """A stable hash (hex) of the program's behaviour: its outputs on the probes."""
    outputs = []
    for inputs in probes(language, program.inputs):
        values = trace(language, program, inputs)
        outputs.append(None if values is None else _plain(values[-1]))
    if sum(o is not None for o in outputs) >= MIN_VALID_PROBES:
        payload: Any = [list(program.inputs), outputs]
    else:
        payload = language.format(program, inline=True)
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def split_of(sig: str) -> str:
    """``"test"`` for the held-out bucket of behaviour signatures, else ``"train"``."""
    return "test" if int(sig[:16], 16) % TEST_BUCKET == 0 else "train"


# --- generation ---------------------------------------------------------------------------


def _ops_taking(language: Language, types: frozenset[str], cache: dict) -> list[int]:
    if types not in cache:
        cache[types] = [i for i, op in enumerate(language.ops) if set(op.args) <= types]
    return cache[types]


_OPS_CACHE: dict[str, dict] = {}


def sample_program(
    language: Language, inputs: tuple[str, ...], length: int, r: random.Random
) -> Program | None:
    """A type-valid program of ``length`` statements with no dead code, its unread inputs
    dropped; None if the draw has dead code or reads no list (``draw_program``)."""
    program = draw_program(language, inputs, length, r)
    if program is None or not all(program.used()):
        return None
    program = without_unread_inputs(program)
    return program if "list" in program.inputs else None


def draw_program(
    language: Language, inputs: tuple[str, ...], length: int, r: random.Random
) -> Program | None:
    """``length`` random type-valid statements over ``inputs`` (None if a step has no op that
    fits). Each statement reads, with probability ``PREFER_UNUSED``, a variable nothing has read
    yet (statements' before inputs')."""
    cache = _OPS_CACHE.setdefault(language.name, {})
    types, read = list(inputs), [False] * len(inputs)
    n_in = len(inputs)
    statements = []
    for _ in range(length):
        ops = _ops_taking(language, frozenset(types), cache)
        if not ops:
            return None
        pending = [v for v in range(n_in, len(types)) if not read[v]]
        pending = pending or [v for v in range(n_in) if not read[v]]
        target = r.choice(pending) if pending and r.random() < PREFER_UNUSED else None
        if target is not None:
            reading = [o for o in ops if types[target] in language.ops[o].args]
            ops, target = (reading, target) if reading else (ops, None)
        op = r.choice(ops)
        wanted = language.ops[op].args
        args = [r.choice([v for v, u in enumerate(types) if u == t]) for t in wanted]
        if target is not None:
            args[r.choice([i for i, t in enumerate(wanted) if t == types[target]])] = target
        for a in args:
            read[a] = True
        statements.append(Statement(op, tuple(args)))
        types.append(language.ops[op].returns)
        read.append(False)
    return Program(tuple(inputs), tuple(statements))


def without_unread_inputs(program: Program) -> Program:
    """``program`` with the inputs no statement reads dropped (its arguments renumbered)."""
    n_in = len(program.inputs)
    read = {a for s in program.statements for a in s.args if a < n_in}
    if len(read) == n_in:
        return program
    kept = sorted(read)
    index = {v: i for i, v in enumerate(kept)}
    index.update({n_in + k: len(kept) + k for k in range(len(program.statements))})
    moved = tuple(Statement(s.op, tuple(index[a] for a in s.args)) for s in program.statements)
    return Program(tuple(program.inputs[v] for v in kept), moved)


def split_of_program(language: Language, program: Program) -> str:
    """The split (``"train"`` or ``"test"``) of a program with no dead code, as the generator
    files it (its unread inputs dropped first)."""
    return split_of(signature(language, without_unread_inputs(program)))


def draw_inputs(language: Language, types: tuple[str, ...], r: random.Random) -> tuple:
    """One example's inputs: a magnitude bound and a length cap for all of its lists."""
    bound = r.choice(BOUNDS)
    low, high = max(-bound, language.low), min(bound - 1, language.high)
    cap = min(r.choice(LENGTH_CAPS), language.max_len)
    row: list[Any] = []
    for t in types:
        if t == "int":
            row.append(r.randint(*INT_INPUTS))
        else:
            row.append(r.choices(range(low, high + 1), k=r.randint(1, cap)))
    return tuple(row)


def _draw_rows(language: Language, program: Program, n: int, r: random.Random) -> list | None:
    """``n`` distinct inputs the program is valid on, with every variable's values."""
    seen, rows = set(), []
    for _ in range(INPUT_TRIES * n):
        inputs = draw_inputs(language, program.inputs, r)
        key = tuple(freeze(v) for v in inputs)
        if key in seen:
            continue
        seen.add(key)
        values = trace(language, program, inputs)
        if values is not None:
            rows.append(values)
            if len(rows) == n:
                return rows
    return None


def _degenerate(rows: list[list]) -> bool:
    """Two variables equal on every row, or the output the same on every row (of several)."""
    columns = [tuple(freeze(row[v]) for row in rows) for v in range(len(rows[0]))]
    return len(set(columns)) < len(columns) or (len(rows) > 1 and len(set(columns[-1])) == 1)


def _generate(
    language: Language,
    length: int,
    rng: np.random.Generator,
    examples: int,
    held_out: int,
    split: str | None,
) -> tuple[Task, str]:
    if length < 1 or examples < 1 or held_out < 0:
        raise ValueError("length and examples must be positive, held_out not negative")
    if split not in ("train", "test", None):
        raise ValueError(f"split must be 'train', 'test' or None, not {split!r}")
    r = random.Random(int(rng.integers(2**63)))
    n = examples + held_out
    for _ in range(MAX_PROGRAMS):
        program = sample_program(language, r.choice(SIGNATURES), length, r)
        if program is None:
            continue
        sig = ""
        if split == "test":  # the rarer bucket: reject on it before drawing inputs
            sig = signature(language, program)
            if split_of(sig) != split:
                continue
        rows = _draw_rows(language, program, n, r)
        if rows is None or _degenerate(rows[:examples] if examples >= 2 else rows):
            continue
        if split == "train":
            sig = signature(language, program)
            if split_of(sig) != split:
                continue
        made = [
            Example(tuple(_plain(v) for v in row[: len(program.inputs)]), _plain(row[-1]))
            for row in rows
        ]
        return Task(made[:examples], made[examples:], program), sig or signature(language, program)
    raise RuntimeError(
        f"no {split + ' ' if split else ''}program of length {length} in {MAX_PROGRAMS} draws"
    )


def generate(
    language: Language,
    length: int,
    rng: np.random.Generator,
    examples: int = 5,
    held_out: int = 2,
    split: str | None = "train",
) -> Task:
    """A task from a random program of exactly ``length`` statements, in ``split`` ("train",
    "test" or None for either); see the module docstring."""
    return _generate(language, length, rng, examples, held_out, split)[0]


def held_out_set(
    language: Language,
    lengths: list[int] | range,
    per_length: int,
    seed: int,
    examples: int = 5,
    held_out: int = 2,
    patience: int = 200,
) -> list[Task]:
    """Fixed test-split tasks, ``per_length`` of each length, no two programs alike on the
    probes. Short lengths have few distinct test programs: a length stops after ``patience``
    draws in a row that repeat a behaviour, with fewer than ``per_length`` tasks."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    tasks: list[Task] = []
    for length in lengths:
        got = misses = 0
        while got < per_length and misses < patience:
            task, sig = _generate(language, length, rng, examples, held_out, "test")
            if sig in seen:
                misses += 1
                continue
            seen.add(sig)
            tasks.append(task)
            got, misses = got + 1, 0
    return tasks


# --- JSON ---------------------------------------------------------------------------------


def _example_json(example: Example) -> dict:
    return {"inputs": [_plain(v) for v in example.inputs], "output": _plain(example.output)}


def to_json(task: Task, language: Language | None = None) -> dict:
    """The task as JSON-ready data; the program (inline syntax) only when ``language`` is given."""
    data: dict[str, Any] = {"examples": [_example_json(e) for e in task.examples]}
    if task.held_out:
        data["held_out"] = [_example_json(e) for e in task.held_out]
    if language is not None and task.program is not None:
        data["program"] = language.format(task.program, inline=True)
    return data


def from_json(data: dict, language: Language) -> Task:
    """A task from ``to_json``'s form (unchecked: see ``taskfile`` for checked reading)."""

    def example(e: dict) -> Example:
        return Example(tuple(_plain(v) for v in e["inputs"]), _plain(e["output"]))

    program = data.get("program")
    return Task(
        [example(e) for e in data["examples"]],
        [example(e) for e in data.get("held_out", [])],
        None if program is None else language.parse(program),
    )
