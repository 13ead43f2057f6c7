"""What a program-induction language is, to the rest of the domain.

A language has value types, a list of operations (each with argument types and a result type),
an interpreter for one operation on one example (``evaluate``, the reference semantics) and the
same operation over many rows at once (``apply``, the simulator's hot path), and a readable
syntax (``parse``/``format``). Programs are straight-line: each statement applies one operation
to earlier variables (the inputs first, then the statements' results, in order) and binds a
fresh variable; the last statement's variable is the program's output. A second language is one
more module that subclasses ``Language``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Op:
    """One operation: its readable name (``MAP (*2)``), argument types and result type."""

    name: str
    args: tuple[str, ...]
    returns: str


@dataclass(frozen=True)
class Statement:
    """``op`` (an index into the language's ops) applied to the variables ``args``."""

    op: int
    args: tuple[int, ...]


@dataclass(frozen=True)
class Program:
    """Input types, then statements; the output is the last statement's variable."""

    inputs: tuple[str, ...]
    statements: tuple[Statement, ...] = ()

    def __len__(self) -> int:
        return len(self.statements)

    def then(self, statement: Statement) -> Program:
        """This program with ``statement`` appended."""
        return Program(self.inputs, (*self.statements, statement))

    def types(self, language: Language) -> list[str]:
        """The type of every variable, inputs first."""
        return [*self.inputs, *(language.ops[s.op].returns for s in self.statements)]

    def used(self) -> list[bool]:
        """Which statements the output depends on (the last always does)."""
        n_in, n = len(self.inputs), len(self.statements)
        live = [False] * n
        if n:
            live[-1] = True
        for i in range(n - 1, -1, -1):
            if live[i]:
                for a in self.statements[i].args:
                    if a >= n_in:
                        live[a - n_in] = True
        return live


@dataclass
class Values:
    """A batch of values of one type, one row each: ints ``(n,)``, or lists as ``data``
    ``(n, max_len)`` (zero past each row's end) with ``lengths`` ``(n,)``."""

    type: str
    data: np.ndarray
    lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.data)

    def key(self) -> tuple:
        """A hashable form of the values (computed once): equal keys, equal values."""
        cached = self.__dict__.get("_key")
        if cached is None:
            lengths = None if self.lengths is None else self.lengths.tobytes()
            cached = self.__dict__["_key"] = (self.type, self.data.tobytes(), lengths)
        return cached

    def rows(self, index) -> Values:
        return Values(
            self.type, self.data[index], None if self.lengths is None else self.lengths[index]
        )

    @staticmethod
    def cat(parts: list[Values]) -> Values:
        lengths = None if parts[0].lengths is None else np.concatenate([p.lengths for p in parts])
        return Values(parts[0].type, np.concatenate([p.data for p in parts]), lengths)


class Language(ABC):
    """A typed straight-line language; see the module docstring."""

    name: str
    types: tuple[str, ...]
    ops: tuple[Op, ...]
    max_len: int  # the longest list value
    low: int  # the smallest int value
    high: int  # the largest int value

    @abstractmethod
    def evaluate(self, op: int, args: list[Any]) -> Any:
        """The reference semantics: ``op`` on one example's argument values (Python ints and
        lists); None where the result is invalid (an error or a value out of range)."""

    @abstractmethod
    def apply(self, op: int, args: list[Values]) -> tuple[Values, np.ndarray]:
        """``op`` on every row at once: the results and a bool ``(n,)`` mask of valid rows
        (invalid rows' results are arbitrary)."""

    def inverse(self, op: int, output: Values) -> Values | None:
        """The one value that ``op`` maps to ``output`` on every row, where there is exactly
        one (a sub-goal for search); None where the op has no such inverse (the default)."""
        return None

    @abstractmethod
    def to_values(self, type_: str, values: list[Any]) -> Values:
        """One row per Python value (each already checked with ``check``)."""

    @abstractmethod
    def from_values(self, values: Values) -> list[Any]:
        """The rows as Python values."""

    @abstractmethod
    def check(self, value: Any) -> str:
        """The type of a Python value; ``ValueError`` saying why if it is none of the
        language's values (wrong kind, out of range, too long)."""

    @abstractmethod
    def parse(self, text: str) -> Program:
        """A program in the readable syntax; ``ValueError`` saying where it is wrong."""

    @abstractmethod
    def format(self, program: Program, inline: bool = False) -> str:
        """The readable syntax of ``program``: a line a statement, or ``; ``-separated."""
