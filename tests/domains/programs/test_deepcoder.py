from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from ida.domains.programs.deepcoder import DEEPCODER, INT, LIST, var_name
from ida.domains.programs.language import Program, Statement
from ida.domains.programs.testing import random_program

L = DEEPCODER

NAMES = [
    "HEAD", "LAST", "TAKE", "DROP", "ACCESS", "MINIMUM", "MAXIMUM", "REVERSE", "SORT", "SUM",
    *(f"MAP {f}" for f in "(+1) (-1) (*2) (/2) (*-1) (**2) (*3) (/3) (*4) (/4)".split()),
    *(f"FILTER {p}" for p in "(>0) (<0) (even) (odd)".split()),
    *(f"COUNT {p}" for p in "(>0) (<0) (even) (odd)".split()),
    *(f"ZIPWITH {f}" for f in "(+) (-) (*) MIN MAX".split()),
    *(f"SCANL1 {f}" for f in "(+) (-) (*) MIN MAX".split()),
]  # fmt: skip

# (op, args, expected), hand-computed; None means invalid
CASES = [
    ("HEAD", [[3, 1, 2]], 3),
    ("LAST", [[3, 1, 2]], 2),
    ("TAKE", [2, [3, 1, 2]], [3, 1]),
    ("TAKE", [5, [3, 1, 2]], [3, 1, 2]),
    ("TAKE", [-1, [3, 1, 2]], []),
    ("DROP", [2, [3, 1, 2]], [2]),
    ("DROP", [5, [3, 1, 2]], []),
    ("DROP", [-1, [3, 1, 2]], [3, 1, 2]),
    ("ACCESS", [1, [3, 1, 2]], 1),
    ("ACCESS", [0, [3, 1, 2]], 3),
    ("MINIMUM", [[3, -1, 2]], -1),
    ("MAXIMUM", [[3, -1, 2]], 3),
    ("REVERSE", [[3, 1, 2]], [2, 1, 3]),
    ("REVERSE", [[]], []),
    ("SORT", [[3, -1, 2, -1]], [-1, -1, 2, 3]),
    ("SUM", [[3, -1, 2]], 4),
    ("SUM", [[]], 0),
    ("MAP (+1)", [[1, -2]], [2, -1]),
    ("MAP (-1)", [[1, -2]], [0, -3]),
    ("MAP (*2)", [[3, -4]], [6, -8]),
    ("MAP (/2)", [[5, -3, 4]], [2, -2, 2]),
    ("MAP (*-1)", [[3, -4, 0]], [-3, 4, 0]),
    ("MAP (**2)", [[3, -4, 15]], [9, 16, 225]),
    ("MAP (*3)", [[3, -4]], [9, -12]),
    ("MAP (/3)", [[7, -1, -3]], [2, -1, -1]),
    ("MAP (*4)", [[3, -4]], [12, -16]),
    ("MAP (/4)", [[9, -1, -8]], [2, -1, -2]),
    ("FILTER (>0)", [[3, -1, 0, 2]], [3, 2]),
    ("FILTER (<0)", [[3, -1, 0, -2]], [-1, -2]),
    ("FILTER (even)", [[3, -2, 0, -3, 4]], [-2, 0, 4]),
    ("FILTER (odd)", [[3, -2, 0, -3, 4]], [3, -3]),
    ("FILTER (>0)", [[]], []),
    ("COUNT (>0)", [[3, -1, 0, 2]], 2),
    ("COUNT (<0)", [[3, -1, 0, -2]], 2),
    ("COUNT (even)", [[3, -2, 0, -3, 4]], 3),
    ("COUNT (odd)", [[3, -2, 0, -3, 4]], 2),
    ("ZIPWITH (+)", [[1, 2, 3], [10, 20]], [11, 22]),
    ("ZIPWITH (-)", [[1, 2, 3], [10, 20]], [-9, -18]),
    ("ZIPWITH (*)", [[1, 2], [10, -20, 5]], [10, -40]),
    ("ZIPWITH MIN", [[1, 25, 3], [10, 20]], [1, 20]),
    ("ZIPWITH MAX", [[1, 25, 3], [10, 20]], [10, 25]),
    ("ZIPWITH (+)", [[], [1]], []),
    ("SCANL1 (+)", [[1, 2, 3, -4]], [1, 3, 6, 2]),
    ("SCANL1 (-)", [[10, 2, 3]], [10, 8, 5]),
    ("SCANL1 (*)", [[2, 3, -1]], [2, 6, -6]),
    ("SCANL1 MIN", [[3, 1, 2, 0]], [3, 1, 1, 0]),
    ("SCANL1 MAX", [[1, 3, 2, 4]], [1, 3, 3, 4]),
    ("SCANL1 (+)", [[]], []),
    # invalid
    ("HEAD", [[]], None),
    ("LAST", [[]], None),
    ("MINIMUM", [[]], None),
    ("MAXIMUM", [[]], None),
    ("ACCESS", [3, [3, 1, 2]], None),
    ("ACCESS", [-1, [3, 1, 2]], None),
    ("ACCESS", [0, []], None),
    ("MAP (**2)", [[16]], None),
    ("MAP (*4)", [[64]], None),
    ("MAP (*-1)", [[-256]], None),
    ("MAP (-1)", [[-256]], None),
    ("SUM", [[200, 100]], None),
    ("SCANL1 (*)", [[10, 10, 10, 0]], None),
    ("ZIPWITH (+)", [[200], [100]], None),
]


def test_ops_in_order():
    assert [op.name for op in L.ops] == NAMES
    assert len(L.ops) == 38
    assert {name for name, _, _ in CASES} == set(NAMES)


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_evaluate(name, args, expected):
    assert L.evaluate(L.op_index(name), args) == expected


def _random_list(rng: np.random.Generator) -> list[int]:
    magnitude = rng.choice([3, 20, 256])
    return rng.integers(-magnitude, magnitude, size=rng.integers(0, 21)).tolist()


def _random_int(rng: np.random.Generator) -> int:
    return int(rng.integers(-3, 23) if rng.random() < 0.8 else rng.integers(-256, 256))


@pytest.mark.parametrize("name", NAMES)
def test_apply_equals_evaluate(name):
    rng = np.random.default_rng(NAMES.index(name))
    op = L.op_index(name)
    rows = [
        [_random_list(rng) if t == LIST else _random_int(rng) for t in L.ops[op].args]
        for _ in range(300)
    ]
    args = [L.to_values(t, [row[j] for row in rows]) for j, t in enumerate(L.ops[op].args)]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        values, valid = L.apply(op, args)
    expected = [L.evaluate(op, row) for row in rows]
    assert valid.dtype == bool and valid.shape == (300,)
    assert valid.tolist() == [e is not None for e in expected]
    assert valid.sum() > 20
    assert values.type == L.ops[op].returns and values.data.dtype == np.int64
    got = L.from_values(values.rows(valid))
    assert got == [e for e in expected if e is not None]
    if values.type == LIST:
        pads = np.arange(20) >= values.lengths[valid][:, None]
        assert not values.data[valid][pads].any()


def test_apply_on_no_rows():
    for op in range(len(L.ops)):
        args = [L.to_values(t, []) for t in L.ops[op].args]
        values, valid = L.apply(op, args)
        assert len(values) == 0 and len(valid) == 0


def test_values_round_trip():
    lists = [[], [1, -256, 255], list(range(20))]
    values = L.to_values(LIST, lists)
    assert values.data.shape == (3, 20) and values.lengths.tolist() == [0, 3, 20]
    assert L.from_values(values) == lists
    assert L.from_values(L.to_values(INT, [0, -256, 255])) == [0, -256, 255]
    with pytest.raises(ValueError, match="expected int"):
        L.to_values(INT, [[1]])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "expected an int or a list of ints, got True"),
        ("abc", "expected an int or a list of ints, got 'abc'"),
        (1.0, "expected an int or a list of ints, got 1.0"),
        (300, r"int 300 out of range \[-256, 255\]"),
        (-257, r"int -257 out of range \[-256, 255\]"),
        ([0] * 23, r"list of length 23 \(at most 20\)"),
        ([1, 300], r"list element 300 out of range \[-256, 255\]"),
        ([1, "x"], "expected a list of ints, got an element 'x'"),
        ([False], "expected a list of ints, got an element False"),
    ],
)
def test_check_errors(value, message):
    with pytest.raises(ValueError, match=message):
        L.check(value)


def test_check_types():
    assert L.check(5) == INT and L.check(np.int64(-256)) == INT
    assert L.check([]) == LIST and L.check([255] * 20) == LIST


def test_var_names():
    assert [var_name(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "a", "b", "z", "aa", "ab", "az", "ba", "zz", "aaa",
    ]  # fmt: skip


def test_format():
    text = "a <- [int]\nb <- int\nc <- SORT a\nd <- TAKE b c\ne <- MAP (*2) d\nf <- ZIPWITH (+) c e"
    program = L.parse(text)
    assert program.inputs == (LIST, INT)
    assert program.statements[1] == Statement(L.op_index("TAKE"), (1, 2))
    assert L.format(program) == text
    assert L.format(program, inline=True) == text.replace("\n", "; ")


def test_parse_format_round_trip():
    rng = random.Random(0)
    for _ in range(200):
        program = random_program(L, rng, rng.randint(1, 30))
        assert L.parse(L.format(program)) == program
        assert L.parse(L.format(program, inline=True)) == program


def test_parse_any_names_and_separators():
    text = "\n  xs <- [int] ; n <- int\n\n sorted_1 <- SORT xs;top <- TAKE n sorted_1 \n"
    expected = Program((LIST, INT), (Statement(8, (0,)), Statement(2, (1, 2))))
    assert L.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a <- [int]\nb <- SORTED a", "line 2: unknown function 'SORTED'"),
        ("a <- [int]\nb <- MAP (*5) a", r"line 2: unknown function 'MAP \(\*5\)'"),
        ("a <- [int]\nb <- [int]\nc <- TAKE a b", r"line 3: TAKE expects \(int, list\), got"),
        ("a <- [int]\nb <- TAKE a", r"line 2: TAKE expects 2 argument\(s\), got 1"),
        ("a <- [int]\nb <- SORT a\nc <- SORT b\nd <- SORT q", "line 4: 'q' is not defined"),
        ("a <- [int]; b <- SORT q", "line 2: 'q' is not defined"),
        ("a <- [int]\n\nc <- SORT x", "line 3: 'x' is not defined"),
        ("a <- [int]\na <- SORT a", "line 2: 'a' is already defined"),
        ("a <- [int]\nb <- SORT a\nc <- int", "line 3: input 'c' declared after a statement"),
        ("a <- [str]\nb <- SORT a", r"line 1: unknown type '\[str\]'"),
        ("a <- [int]\nb = SORT a", "line 2: expected 'name <- ...'"),
        ("A <- [int]", "line 1: expected 'name <- ...'"),
        ("a <- [int]\nb <-", "line 2: expected a type or a function"),
        ("a <- [int]", "no statements"),
        ("", "no statements"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        L.parse(text)
