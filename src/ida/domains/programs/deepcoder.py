"""DeepCoder's list DSL (Balog et al., 2017) as a ``Language``.

Values are ints in [-256, 255] (type ``int``) and lists of at most 20 such ints (type ``list``).
The 38 operations, in this order: HEAD, LAST, TAKE, DROP, ACCESS, MINIMUM, MAXIMUM, REVERSE,
SORT, SUM; MAP with (+1) (-1) (*2) (/2) (*-1) (**2) (*3) (/3) (*4) (/4); FILTER then COUNT with
(>0) (<0) (even) (odd); ZIPWITH then SCANL1 with (+) (-) (*) MIN MAX.

Semantics, every choice in one place:

- Any result, or element of a result, outside [-256, 255] makes the result invalid; so does any
  element of SCANL1's running value (each is an element of its result).
- Division floors, as Python's ``//``: (/2) of -3 is -2, (/3) of -1 is -1.
- HEAD, LAST, MINIMUM and MAXIMUM of an empty list are invalid; SUM of an empty list is 0.
- ACCESS n xs is xs[n], valid only for 0 <= n < len(xs) (no negative indexing).
- TAKE n xs is the first k elements and DROP n xs all but the first k, k = max(0, min(n, len)).
- FILTER keeps the elements satisfying its predicate, in order; COUNT counts them. (even) and
  (odd) are ``x % 2 == 0`` and ``x % 2 == 1`` (Python's ``%``, so -3 is odd).
- ZIPWITH f xs ys has length min(len(xs), len(ys)) and element i f(xs[i], ys[i]).
- SCANL1 f xs: out[0] = xs[0], out[i] = f(out[i-1], xs[i]); the empty list gives the empty list.
- (-) is a - b with a the first argument of ZIPWITH, or the running value of SCANL1.
- Arguments are in the order of the op's signature: TAKE n xs, ACCESS n xs.
- ``check`` takes Python (or numpy) ints and lists or tuples of them; a bool is not an int.
- ``apply`` gives every valid row zero past its end; invalid rows' results are arbitrary.

Syntax: one line (or ``;``-separated part) a variable, inputs first, declared ``a <- [int]`` or
``b <- int``, then statements such as ``c <- TAKE b a`` or ``d <- MAP (*2) c``. ``format`` names
variables a, b, ..., z, then aa, ab, ..., az, ba, ... (bijective base 26, like spreadsheet
columns); ``parse`` accepts any fresh names matching ``[a-z][a-z0-9_]*``. Parse errors say
``line k``, k counting lines and ``;``-separated parts (blank ones too) from 1.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ida.domains.programs.language import Language, Op, Program, Statement, Values

INT = "int"
LIST = "list"

_MAPS: dict[str, Callable[[Any], Any]] = {
    "(+1)": lambda x: x + 1,
    "(-1)": lambda x: x - 1,
    "(*2)": lambda x: x * 2,
    "(/2)": lambda x: x // 2,
    "(*-1)": lambda x: -x,
    "(**2)": lambda x: x * x,
    "(*3)": lambda x: x * 3,
    "(/3)": lambda x: x // 3,
    "(*4)": lambda x: x * 4,
    "(/4)": lambda x: x // 4,
}
_PREDICATES: dict[str, Callable[[Any], Any]] = {
    "(>0)": lambda x: x > 0,
    "(<0)": lambda x: x < 0,
    "(even)": lambda x: x % 2 == 0,
    "(odd)": lambda x: x % 2 == 1,
}
# (plain Python function, numpy function) for each binary lambda
_BINARY: dict[str, tuple[Callable[[int, int], int], Callable[[Any, Any], Any]]] = {
    "(+)": (operator.add, np.add),
    "(-)": (operator.sub, np.subtract),
    "(*)": (operator.mul, np.multiply),
    "MIN": (min, np.minimum),
    "MAX": (max, np.maximum),
}
_FIRST_ORDER: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("HEAD", (LIST,), INT),
    ("LAST", (LIST,), INT),
    ("TAKE", (INT, LIST), LIST),
    ("DROP", (INT, LIST), LIST),
    ("ACCESS", (INT, LIST), INT),
    ("MINIMUM", (LIST,), INT),
    ("MAXIMUM", (LIST,), INT),
    ("REVERSE", (LIST,), LIST),
    ("SORT", (LIST,), LIST),
    ("SUM", (LIST,), INT),
)
_HIGHER_ORDER: tuple[tuple[str, dict, tuple[str, ...], str], ...] = (
    ("MAP", _MAPS, (LIST,), LIST),
    ("FILTER", _PREDICATES, (LIST,), LIST),
    ("COUNT", _PREDICATES, (LIST,), INT),
    ("ZIPWITH", _BINARY, (LIST, LIST), LIST),
    ("SCANL1", _BINARY, (LIST,), LIST),
)
_Result = tuple[Values, np.ndarray]  # what ``apply`` returns: the values and the valid rows
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_LINE = re.compile(r"([a-z][a-z0-9_]*)\s*<-\s*(.*)\Z")
_TYPE_SYNTAX = {"int": INT, "[int]": LIST}


def _build() -> tuple[tuple[Op, ...], tuple[tuple[str, Any], ...]]:
    ops: list[Op] = []
    impl: list[tuple[str, Any]] = []
    for name, args, returns in _FIRST_ORDER:
        ops.append(Op(name, args, returns))
        impl.append((name, None))
    for name, table, args, returns in _HIGHER_ORDER:
        for lam, fn in table.items():
            ops.append(Op(f"{name} {lam}", args, returns))
            impl.append((name, fn))
    return tuple(ops), tuple(impl)


def var_name(i: int) -> str:
    """The ``i``-th variable's name: a..z, then aa, ab, ..., zz, aaa, ..."""
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(ord("a") + r) + name
    return name


def _reverse(data: np.ndarray, lengths: np.ndarray, inside: np.ndarray) -> np.ndarray:
    index = np.clip(lengths[:, None] - 1 - np.arange(data.shape[1]), 0, None)
    return np.take_along_axis(data, index, axis=1)


def _divide(k: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray | None]:
    def undo(data: np.ndarray, lengths: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
        return None if (data[inside] % k).any() else data // k

    return undo


def _differences(sign: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def undo(data: np.ndarray, lengths: np.ndarray, inside: np.ndarray) -> np.ndarray:
        out = data.copy()
        out[:, 1:] = sign * (data[:, 1:] - data[:, :-1])
        return out

    return undo


_INVERSES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray | None]] = {
    "REVERSE": _reverse,
    "MAP (+1)": lambda d, n, i: d - 1,
    "MAP (-1)": lambda d, n, i: d + 1,
    "MAP (*-1)": lambda d, n, i: -d,
    "MAP (*2)": _divide(2),
    "MAP (*3)": _divide(3),
    "MAP (*4)": _divide(4),
    "SCANL1 (+)": _differences(1),
    "SCANL1 (-)": _differences(-1),
}


class DeepCoder(Language):
    """DeepCoder's DSL; see the module docstring for the semantics and syntax."""

    name = "deepcoder"
    types = (INT, LIST)
    max_len = 20
    low = -256
    high = 255

    def __init__(self) -> None:
        self.ops, self._impl = _build()
        self._index = {op.name: i for i, op in enumerate(self.ops)}
        self._pos = np.arange(self.max_len)
        self._vectorised = [(getattr(self, "_apply_" + k.lower()), fn) for k, fn in self._impl]

    def op_index(self, name: str) -> int:
        """The index of the op called ``name`` (``KeyError`` if none is)."""
        return self._index[name]

    # --- reference semantics -------------------------------------------------------------

    def evaluate(self, op: int, args: list[Any]) -> Any:
        kind, fn = self._impl[op]
        if kind in ("HEAD", "LAST", "MINIMUM", "MAXIMUM") and not args[0]:
            return None
        if kind == "HEAD":
            result = args[0][0]
        elif kind == "LAST":
            result = args[0][-1]
        elif kind == "MINIMUM":
            result = min(args[0])
        elif kind == "MAXIMUM":
            result = max(args[0])
        elif kind in ("TAKE", "DROP"):
            n, xs = args
            k = max(0, min(n, len(xs)))
            result = list(xs[:k]) if kind == "TAKE" else list(xs[k:])
        elif kind == "ACCESS":
            n, xs = args
            if not 0 <= n < len(xs):
                return None
            result = xs[n]
        elif kind == "REVERSE":
            result = list(reversed(args[0]))
        elif kind == "SORT":
            result = sorted(args[0])
        elif kind == "SUM":
            result = sum(args[0])
        elif kind == "MAP":
            result = [fn(x) for x in args[0]]
        elif kind == "FILTER":
            result = [x for x in args[0] if fn(x)]
        elif kind == "COUNT":
            result = sum(1 for x in args[0] if fn(x))
        elif kind == "ZIPWITH":
            xs, ys = args
            result = [fn[0](x, y) for x, y in zip(xs, ys, strict=False)]
        else:  # SCANL1
            result = []
            for x in args[0]:
                result.append(fn[0](result[-1], x) if result else x)
        return result if self._in_range(result) else None

    def _in_range(self, value: Any) -> bool:
        if isinstance(value, list):
            return all(self.low <= x <= self.high for x in value)
        return self.low <= value <= self.high

    # --- inverses (sub-goals for search) ------------------------------------------------

    def inverse(self, op: int, output: Values) -> Values | None:
        """The one list that ``op`` maps to ``output`` on every row, for the ops with a unique
        inverse: REVERSE, MAP (+1) (-1) (*-1) (*2) (*3) (*4) (the last three where every
        element divides), SCANL1 (+) and (-) (differences); None otherwise."""
        name = self.ops[op].name
        if output.type != LIST or name not in _INVERSES:
            return None
        data, lengths = output.data, output.lengths
        inside = self._inside(lengths)
        result = _INVERSES[name](data, lengths, inside)
        if result is None:
            return None
        values, valid = self._list(result, lengths)
        if not valid.all():
            return None
        forward, ok = self.apply(op, [values])
        return values if ok.all() and forward.key() == output.key() else None

    # --- vectorised semantics ------------------------------------------------------------

    def apply(self, op: int, args: list[Values]) -> _Result:
        method, fn = self._vectorised[op]
        return method(fn, *args)

    def _inside(self, lengths: np.ndarray) -> np.ndarray:
        return self._pos < lengths[:, None]

    def _int(self, data: np.ndarray) -> _Result:
        """An int result, valid where in range."""
        return Values(INT, data), (data >= self.low) & (data <= self.high)

    def _list(self, data: np.ndarray, lengths: np.ndarray, check: bool = True) -> _Result:
        """A list result: zero past each row's end, and (with ``check``) elements in range."""
        inside = self._inside(lengths)
        if check:
            bad = ((data < self.low) | (data > self.high)) & inside
            valid = ~bad.any(axis=1)
        else:
            valid = np.ones(len(lengths), dtype=bool)
        return Values(LIST, np.where(inside, data, 0), lengths), valid

    def _apply_head(self, _: Any, xs: Values) -> _Result:
        return Values(INT, xs.data[:, 0]), xs.lengths > 0

    def _apply_last(self, _: Any, xs: Values) -> _Result:
        last = np.maximum(xs.lengths - 1, 0)
        return Values(INT, xs.data[np.arange(len(xs)), last]), xs.lengths > 0

    def _apply_take(self, _: Any, n: Values, xs: Values) -> _Result:
        k = np.clip(n.data, 0, xs.lengths)
        return Values(LIST, np.where(self._inside(k), xs.data, 0), k), np.ones(len(k), bool)

    def _apply_drop(self, _: Any, n: Values, xs: Values) -> _Result:
        k = np.clip(n.data, 0, xs.lengths)
        source = np.minimum(self._pos + k[:, None], self.max_len - 1)
        shifted = np.take_along_axis(xs.data, source, axis=1)
        return self._list(shifted, xs.lengths - k, check=False)

    def _apply_access(self, _: Any, n: Values, xs: Values) -> _Result:
        valid = (n.data >= 0) & (n.data < xs.lengths)
        index = np.clip(n.data, 0, self.max_len - 1)
        return Values(INT, xs.data[np.arange(len(xs)), index]), valid

    def _apply_minimum(self, _: Any, xs: Values) -> _Result:
        filled = np.where(self._inside(xs.lengths), xs.data, self.high + 1)
        return Values(INT, filled.min(axis=1)), xs.lengths > 0

    def _apply_maximum(self, _: Any, xs: Values) -> _Result:
        filled = np.where(self._inside(xs.lengths), xs.data, self.low - 1)
        return Values(INT, filled.max(axis=1)), xs.lengths > 0

    def _apply_reverse(self, _: Any, xs: Values) -> _Result:
        source = np.maximum(xs.lengths[:, None] - 1 - self._pos, 0)
        return self._list(np.take_along_axis(xs.data, source, axis=1), xs.lengths, check=False)

    def _apply_sort(self, _: Any, xs: Values) -> _Result:
        filled = np.where(self._inside(xs.lengths), xs.data, self.high + 1)
        return self._list(np.sort(filled, axis=1), xs.lengths, check=False)

    def _apply_sum(self, _: Any, xs: Values) -> _Result:
        return self._int(xs.data.sum(axis=1))

    def _apply_map(self, fn: Any, xs: Values) -> _Result:
        return self._list(fn(xs.data), xs.lengths)

    def _apply_filter(self, fn: Any, xs: Values) -> _Result:
        keep = fn(xs.data) & self._inside(xs.lengths)
        order = np.argsort(~keep, axis=1, kind="stable")
        kept = np.take_along_axis(xs.data, order, axis=1)
        return self._list(kept, keep.sum(axis=1), check=False)

    def _apply_count(self, fn: Any, xs: Values) -> _Result:
        count = (fn(xs.data) & self._inside(xs.lengths)).sum(axis=1)
        return Values(INT, count), np.ones(len(count), bool)

    def _apply_zipwith(self, fn: Any, xs: Values, ys: Values) -> _Result:
        return self._list(fn[1](xs.data, ys.data), np.minimum(xs.lengths, ys.lengths))

    def _apply_scanl1(self, fn: Any, xs: Values) -> _Result:
        out = xs.data.copy()
        longest = int(xs.lengths.max(initial=0))
        for j in range(1, longest):
            # clipping keeps the running value small; it only changes rows already invalid
            step = fn[1](out[:, j - 1], out[:, j])
            out[:, j] = np.minimum(np.maximum(step, self.low - 1, out=step), self.high + 1)
        return self._list(out, xs.lengths)

    # --- values ---------------------------------------------------------------------------

    def check(self, value: Any) -> str:
        if _is_int(value):
            if not self.low <= value <= self.high:
                raise ValueError(f"int {value} out of range [{self.low}, {self.high}]")
            return INT
        if isinstance(value, (list, tuple)):
            if len(value) > self.max_len:
                raise ValueError(f"list of length {len(value)} (at most {self.max_len})")
            for x in value:
                if not _is_int(x):
                    raise ValueError(f"expected a list of ints, got an element {x!r}")
                if not self.low <= x <= self.high:
                    raise ValueError(f"list element {x} out of range [{self.low}, {self.high}]")
            return LIST
        raise ValueError(f"expected an int or a list of ints, got {value!r}")

    def to_values(self, type_: str, values: list[Any]) -> Values:
        for value in values:
            if self.check(value) != type_:
                raise ValueError(f"expected {type_} values, got {value!r}")
        if type_ == INT:
            return Values(INT, np.array(values, dtype=np.int64).reshape(len(values)))
        data = np.zeros((len(values), self.max_len), dtype=np.int64)
        for row, value in zip(data, values, strict=True):
            row[: len(value)] = value
        return Values(LIST, data, np.array([len(v) for v in values], dtype=np.int64))

    def from_values(self, values: Values) -> list[Any]:
        if values.type == INT:
            return [int(x) for x in values.data]
        return [row[:n].tolist() for row, n in zip(values.data, values.lengths, strict=True)]

    # --- syntax ---------------------------------------------------------------------------

    def format(self, program: Program, inline: bool = False) -> str:
        lines = [
            f"{var_name(i)} <- {'int' if t == INT else '[int]'}"
            for i, t in enumerate(program.inputs)
        ]
        for k, s in enumerate(program.statements):
            args = " ".join(var_name(a) for a in s.args)
            lines.append(f"{var_name(len(program.inputs) + k)} <- {self.ops[s.op].name} {args}")
        return ("; " if inline else "\n").join(lines)

    def parse(self, text: str) -> Program:
        names: dict[str, int] = {}
        types: list[str] = []
        inputs: list[str] = []
        statements: list[Statement] = []
        parts = [part for line in text.split("\n") for part in line.split(";")]
        for number, part in enumerate(parts, 1):
            line = part.strip()
            if not line:
                continue
            match = _LINE.match(line)
            if not match:
                raise ValueError(f"line {number}: expected 'name <- ...', got {line!r}")
            name, rest = match.groups()
            if name in names:
                raise ValueError(f"line {number}: {name!r} is already defined")
            if rest in _TYPE_SYNTAX:
                if statements:
                    raise ValueError(f"line {number}: input {name!r} declared after a statement")
                inputs.append(_TYPE_SYNTAX[rest])
                type_ = inputs[-1]
            else:
                statement = self._statement(rest, names, types, number)
                statements.append(statement)
                type_ = self.ops[statement.op].returns
            names[name] = len(types)
            types.append(type_)
        if not statements:
            raise ValueError("no statements (a program needs at least one)")
        return Program(tuple(inputs), tuple(statements))

    def _statement(
        self, text: str, names: dict[str, int], types: list[str], number: int
    ) -> Statement:
        words = text.split()
        if not words:
            raise ValueError(f"line {number}: expected a type or a function after '<-'")
        higher = {name for name, *_ in _HIGHER_ORDER}
        width = 2 if words[0] in higher else 1
        function = " ".join(words[:width])
        if function not in self._index:
            if len(words) == 1 and not words[0].isupper():
                raise ValueError(f"line {number}: unknown type {words[0]!r} (int or [int])")
            raise ValueError(f"line {number}: unknown function {function!r}")
        op = self._index[function]
        signature = self.ops[op].args
        arg_names = words[width:]
        if len(arg_names) != len(signature):
            raise ValueError(
                f"line {number}: {function} expects {len(signature)} argument(s), "
                f"got {len(arg_names)}"
            )
        for arg in arg_names:
            if arg not in names:
                what = "is not defined" if _NAME.match(arg) else "is not a variable name"
                raise ValueError(f"line {number}: {arg!r} {what}")
        args = tuple(names[a] for a in arg_names)
        got = tuple(types[a] for a in args)
        if got != signature:
            raise ValueError(
                f"line {number}: {function} expects ({', '.join(signature)}), "
                f"got ({', '.join(got)})"
            )
        return Statement(op, args)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


DEEPCODER = DeepCoder()
