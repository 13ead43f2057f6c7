"""The simulator g(phi, x) -> (y, z): a program's output y and trace z on a task's inputs x.

``run`` is the plain reference interpreter, one example at a time with the language's
``evaluate``. ``Simulator`` is the vectorised one that search uses and that counts its work:
``extend`` appends one statement to many partial programs at once (one ``apply`` per op), and
``execute`` runs whole programs, caching every prefix's values so programs sharing a prefix
only compute what differs. One call is one statement evaluated on all of a task's examples; a
cached value costs nothing. Statements and examples are numbered from 0 in messages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np

from ida.domains.programs.language import Language, Program, Statement, Values


class Invalid(ValueError):
    """The program has no value on some example (an error or a value out of range)."""


def check_program(language: Language, program: Program) -> None:
    """``ValueError`` unless ``program`` has a statement and every argument is an earlier
    variable of the type its op expects."""
    if not program.statements:
        raise ValueError("the program has no statements")
    types = list(program.inputs)
    for k, s in enumerate(program.statements):
        op = language.ops[s.op]
        if any(not 0 <= a < len(types) for a in s.args):
            raise ValueError(f"statement {k} ({op.name}): argument {s.args} not defined yet")
        got = tuple(types[a] for a in s.args)
        if got != op.args:
            raise ValueError(f"statement {k}: {op.name} expects {op.args}, got {got}")
        types.append(op.returns)


def run(
    language: Language, program: Program, inputs: list[list[Any]]
) -> tuple[list[Any], list[list[Any]]]:
    """The outputs (one per example) and traces (every variable's value, inputs first, per
    example) of ``program`` on ``inputs`` (per example, one Python value per program input).
    ``Invalid`` if the program is invalid on an example; ``ValueError`` if the inputs do not
    fit the program's input types."""
    check_program(language, program)
    outputs, traces = [], []
    for e, example in enumerate(inputs):
        if len(example) != len(program.inputs):
            raise ValueError(
                f"example {e}: {len(example)} inputs, the program takes {len(program.inputs)}"
            )
        for i, (value, type_) in enumerate(zip(example, program.inputs, strict=True)):
            got = language.check(value)
            if got != type_:
                raise ValueError(f"example {e}, input {i}: expected {type_}, got {got}")
        env = list(example)
        for k, s in enumerate(program.statements):
            value = language.evaluate(s.op, [env[a] for a in s.args])
            if value is None:
                name = language.ops[s.op].name
                raise Invalid(f"statement {k} ({name}) is invalid on example {e}")
            env.append(value)
        outputs.append(env[-1])
        traces.append(env)
    return outputs, traces


def same(a: Values, b: Values) -> bool:
    """Whether two batches hold the same values on every row."""
    if a.type != b.type or len(a) != len(b):
        return False
    if a.lengths is None or b.lengths is None:
        return a.lengths is None and b.lengths is None and np.array_equal(a.data, b.data)
    if not np.array_equal(a.lengths, b.lengths):
        return False
    inside = np.arange(a.data.shape[1]) < a.lengths[:, None]
    return bool(np.all((a.data == b.data) | ~inside))


class Simulator:
    """Runs programs of ``language`` on batches of examples, counting calls in ``calls``."""

    def __init__(self, language: Language, cache_size: int = 200_000) -> None:
        self.language = language
        self.cache_size = cache_size
        self.calls = 0
        self._cache: OrderedDict[Hashable, tuple[Values, ...] | None] = OrderedDict()

    def extend(self, items: list[tuple[list[Values], Statement]]) -> list[Values | None]:
        """For each (environment, statement): the statement's values on the environment's
        rows, or None where it is invalid on any of them. One ``apply`` per op."""
        self.calls += len(items)
        results: list[Values | None] = [None] * len(items)
        groups: dict[int, list[int]] = {}
        for i, (_, s) in enumerate(items):
            groups.setdefault(s.op, []).append(i)
        for op, members in groups.items():
            if len(members) == 1:
                env, s = items[members[0]]
                values, valid = self.language.apply(op, [env[a] for a in s.args])
                if valid.all():
                    results[members[0]] = values
                continue
            arity = len(self.language.ops[op].args)
            columns = [
                Values.cat([items[i][0][items[i][1].args[j]] for i in members])
                for j in range(arity)
            ]
            sizes = np.array([len(items[i][0][items[i][1].args[0]]) for i in members])
            ends = np.cumsum(sizes)
            starts = ends - sizes
            values, valid = self.language.apply(op, columns)
            bad = np.concatenate(([0], np.cumsum(~valid)))
            good = bad[ends] == bad[starts]
            data, lengths = values.data, values.lengths
            for i, start, end, ok in zip(
                members, starts.tolist(), ends.tolist(), good.tolist(), strict=True
            ):
                if ok:
                    results[i] = Values(
                        values.type,
                        data[start:end],
                        None if lengths is None else lengths[start:end],
                    )
        return results

    def execute(self, program: Program, inputs: list[Values], key: Hashable) -> list[Values] | None:
        """Every variable's values (inputs first) of ``program`` on a task's ``inputs``, or None
        if it is invalid on any example. ``key`` names the task: prefixes of programs already
        executed with the same key come from the cache."""
        if [v.type for v in inputs] != list(program.inputs):
            got = tuple(v.type for v in inputs)
            raise ValueError(f"inputs of types {got}, the program takes {program.inputs}")
        statements = program.statements
        env: list[Values] = list(inputs)
        start = 0
        for k in range(len(statements), 0, -1):
            cached = self._cache.get((key, statements[:k]), False)
            if cached is not False:
                self._cache.move_to_end((key, statements[:k]))
                if cached is None:
                    return None
                env, start = list(cached), k
                break
        for k in range(start, len(statements)):
            (value,) = self.extend([(env, statements[k])])
            if value is not None:
                env.append(value)
            self._remember((key, statements[: k + 1]), None if value is None else tuple(env))
            if value is None:
                return None
        return env

    def _remember(self, key: Hashable, env: tuple[Values, ...] | None) -> None:
        self._cache[key] = env
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    @staticmethod
    def equals(values: Values, target: Values) -> bool:
        """Whether ``values`` and ``target`` hold the same values on every row."""
        return same(values, target)
