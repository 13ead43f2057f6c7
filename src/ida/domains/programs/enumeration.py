"""Enumeration, the baselines that learn nothing: bottom-up with observational-equivalence
pruning, and depth-first with iterative deepening.

Each searches a ``Problem`` within ``budget`` simulator calls (and ``seconds``), counting calls
as the learned search does: one call is one statement evaluated on all of a task's examples by
``Simulator.extend``. Candidates are simulated in batches, in enumeration order, never past the
budget; a solution that is the k-th candidate simulated counts k calls.

- ``bottom_up``: bottom-up enumeration of expressions by size, with observational-equivalence
  pruning (one expression per distinct value on the examples).
- ``depth_first``: depth-first enumeration of straight-line programs, iterative deepening.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice, product

from ida.domains.programs.language import Language, Program, Statement, Values
from ida.domains.programs.search import Found, Problem
from ida.domains.programs.simulator import Simulator

CHUNK = 1024  # candidates simulated per ``extend``, at most


class _Stop(Exception):
    """The budget or the time is spent."""


class _Counter:
    """Simulates batches of candidates within a budget and a deadline, counting calls."""

    def __init__(self, language: Language, budget: int, seconds: float) -> None:
        self.simulator = Simulator(language, cache_size=0)
        self.budget, self.calls = budget, 0
        self.started = time.perf_counter()
        self.deadline = self.started + seconds

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` candidates may be simulated now; ``_Stop`` if none may."""
        left = self.budget - self.calls
        if left <= 0 or time.perf_counter() >= self.deadline:
            raise _Stop
        return min(wanted, left)

    def extend(self, items: list[tuple[list[Values], Statement]]) -> list[Values | None]:
        """Each statement's values on its environment (None: invalid), counted."""
        self.calls += len(items)
        return self.simulator.extend(items)

    def found(self, program: Program | None, unused: int = 0) -> Found:
        """The result, not counting the ``unused`` candidates simulated after the solution."""
        self.calls -= unused
        return Found(program, self.calls, time.perf_counter() - self.started)


def _op_list(language: Language, ops: Sequence[int] | None) -> list[int]:
    return sorted(set(range(len(language.ops)) if ops is None else (int(o) for o in ops)))


# --- bottom-up ----------------------------------------------------------------------------


def bottom_up(
    language: Language,
    problem: Problem,
    budget: int,
    max_length: int = 5,
    seconds: float = math.inf,
    ops: Sequence[int] | None = None,
) -> Found:
    """Bottom-up enumeration with observational-equivalence pruning.

    A pool of distinct values (by ``Values.key``) starts with the inputs (size 0) and grows in
    rounds by size (the ops in a value's expression), size 1 to ``max_length``: every op (of
    ``ops``, default all) on every type-fitting tuple of pool values whose sizes sum to
    size - 1, in order of op, then argument sizes, then pool order. A valid value already in
    the pool is dropped; one equal to the output (even if it is in the pool) ends the search,
    and its expression becomes a straight-line program, shared sub-expressions computed once.
    """
    counter = _Counter(language, budget, seconds)
    ops = _op_list(language, ops)
    pool: list[Values] = list(problem.inputs)
    expressions: list[Statement | None] = [None] * len(pool)
    seen = {v.key() for v in pool}
    by_size: dict[str, list[list[int]]] = {t: [[]] for t in language.types}
    for i, v in enumerate(pool):
        by_size[v.type][0].append(i)
    goal = problem.output.key()
    try:
        for size in range(1, max_length + 1):
            for sizes in by_size.values():
                sizes.append([])
            candidates = _expressions(language, ops, by_size, size)
            while chunk := list(islice(candidates, counter.take(CHUNK))):
                values = counter.extend([(pool, s) for s in chunk])
                for j, (s, v) in enumerate(zip(chunk, values, strict=True)):
                    if v is None:
                        continue
                    key = v.key()
                    if key == goal:
                        program = _linearise(expressions, problem, s)
                        return counter.found(program, len(chunk) - j - 1)
                    if key not in seen:
                        seen.add(key)
                        by_size[v.type][size].append(len(pool))
                        pool.append(v)
                        expressions.append(s)
    except _Stop:
        pass
    return counter.found(None)


def _expressions(
    language: Language, ops: list[int], by_size: dict[str, list[list[int]]], size: int
) -> Iterator[Statement]:
    """Every op applied to pool values (by index) whose sizes sum to ``size`` - 1."""
    for op in ops:
        types = language.ops[op].args
        for sizes in _compositions(size - 1, len(types)):
            pools = [by_size[t][k] for t, k in zip(types, sizes, strict=True)]
            for args in product(*pools):
                yield Statement(op, args)


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every tuple of ``parts`` non-negative ints summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def _linearise(expressions: list[Statement | None], problem: Problem, last: Statement) -> Program:
    """The straight-line program computing ``last`` (over pool indices) from the inputs."""
    n_in = len(problem.inputs)
    variable = {i: i for i in range(n_in)}
    statements: list[Statement] = []

    def emit(s: Statement) -> int:
        args = tuple(place(a) for a in s.args)
        statements.append(Statement(s.op, args))
        return n_in + len(statements) - 1

    def place(index: int) -> int:
        if index not in variable:
            variable[index] = emit(expressions[index])
        return variable[index]

    emit(last)
    return Program(tuple(v.type for v in problem.inputs), tuple(statements))


# --- depth-first --------------------------------------------------------------------------


def depth_first(
    language: Language,
    problem: Problem,
    budget: int,
    max_length: int = 5,
    seconds: float = math.inf,
    ops: Sequence[int] | None = None,
) -> Found:
    """Depth-first enumeration of straight-line programs, iterative deepening over length
    1..``max_length``; see ``depth_first_space``."""
    return depth_first_space(language, problem, budget, max_length, seconds, ops)[0]


def depth_first_space(
    language: Language,
    problem: Problem,
    budget: int,
    max_length: int,
    seconds: float,
    ops: Sequence[int] | None,
) -> tuple[Found, bool]:
    """Depth-first enumeration, and whether it went through its whole space.

    For each length L, programs of exactly L statements are enumerated depth first; a state's
    children (statements of ``ops``, default all, in order of op index, then argument
    variables) are simulated in one batch, then searched in that order. Pruned: invalid
    prefixes, and a new value equal to one of the state's variables (the only equivalence
    pruning). Never simulated (no call is spent on them): a last statement whose type is not the
    output's, and prefixes that cannot end without dead code (a statement nothing reads: such a
    program equals a shorter one, searched at a smaller L).
    """
    counter = _Counter(language, budget, seconds)
    ops = _op_list(language, ops)
    reads = max((len(language.ops[o].args) for o in ops), default=1)
    goal, goal_type = problem.output.key(), problem.output.type
    last_ops = [o for o in ops if language.ops[o].returns == goal_type]

    def candidates(state: _State, left: int) -> list[tuple[_State, Statement, int]]:
        """The state's children to simulate, with what they leave unread (a bit a variable)."""
        env, out = state.env, []
        by_type = {t: [v for v, x in enumerate(env) if x.type == t] for t in language.types}
        most = 1 + left * (reads - 1)  # unread statements a state may have, ``left`` to go
        unread = state.unread.bit_count() + 1
        for op in ops if left else last_ops:
            types = language.ops[op].args
            if unread - len(types) > most:
                continue
            for args in product(*(by_type[t] for t in types)):
                after = state.unread | (1 << len(env))
                for a in args:
                    after &= ~(1 << a)
                if after.bit_count() <= most:
                    out.append((state, Statement(op, args), after))
        return out

    def simulate(items: list[tuple[_State, Statement, int]], keep: bool) -> list[_State] | Found:
        """The items' new states (where ``keep``), in order; or the solution among them."""
        kept, start = [], 0
        while start < len(items):
            chunk = items[start : start + counter.take(min(CHUNK, len(items) - start))]
            start += len(chunk)
            values = counter.extend([(state.env, s) for state, s, _ in chunk])
            for j, ((state, s, after), v) in enumerate(zip(chunk, values, strict=True)):
                if v is None:
                    continue
                key = v.key()
                if key == goal:
                    return counter.found(state.program.then(s), len(chunk) - j - 1)
                if keep and key not in state.keys():
                    kept.append(_State([*state.env, v], state.program.then(s), after))
        return kept

    def visit(state: _State, length: int) -> Found | None:
        left = length - len(state.program) - 1  # statements after a child
        children = simulate(candidates(state, left), keep=left > 0)
        if isinstance(children, Found) or left == 0:
            return children if isinstance(children, Found) else None
        if left == 1:  # the leaves of all the children in one batch
            leaves = simulate([c for child in children for c in candidates(child, 0)], False)
            return leaves if isinstance(leaves, Found) else None
        for child in children:
            found = visit(child, length)
            if found is not None:
                return found
        return None

    root = _State(list(problem.inputs), Program(tuple(v.type for v in problem.inputs)), 0)
    try:
        for length in range(1, max_length + 1):
            found = visit(root, length)
            if found is not None:
                return found, False
    except _Stop:
        return counter.found(None), False
    return counter.found(None), True


@dataclass(eq=False)
class _State:
    """A program of the depth-first search, its variables' values, and (a bit a variable)
    the statements nothing reads yet."""

    env: list[Values]
    program: Program
    unread: int

    def keys(self) -> set:
        cached = self.__dict__.get("_keys")
        if cached is None:
            cached = self.__dict__["_keys"] = {v.key() for v in self.env}
        return cached


# --- DeepCoder ----------------------------------------------------------------------------
