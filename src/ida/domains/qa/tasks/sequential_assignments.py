"""Sequential assignments: a straight-line program over a small domain; VALUE(v) -> v's value.

Facts are the program ``v_0 := c``, ``v_1 := c``, ``v_i := f(v_j, v_k)`` (j, k < i) over values
``range(m)``, m = 4, and the m x m table of the random operation f. Questions are VALUE(v_i)
and the helper F(a, b) = f(a, b). H answers F and the VALUE of a constant by one lookup (level
0); otherwise it looks up v_i's assignment and fans out to VALUE(v_j) and VALUE(v_k) (one
question if j = k), then fans in to F of the two answers (matched to the operands by the
assignment, so their order does not matter), whose answer it returns. The level of VALUE(v_i)
is v_i's depth in the dependency DAG (constants 0), so its operands are strictly lower.
Generation keeps depths in 0..D, D = ceil(log2 n), and spreads them: each v_i first draws its
depth d uniformly from 1..min(D, deepest so far + 1), then takes v_j among earlier variables of
depth d - 1 and v_k among earlier ones of depth below d (maybe v_j again; the two in random
order); instances missing some depth are resampled.
Tokens: 0 PAD, 1 VALUE, 2 F, 3 ``:= c`` / 4 ``:= f`` / 5 table fact kinds, 6..n+5 the variables,
n+6..n+m+5 the values. Facts [kind, x, y, z], questions [type, x, y]; answers are values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ida.domains.qa.tasks.base import (
    PAD,
    Answered,
    Instance,
    Question,
    QuestionForm,
    Slot,
    Step,
    Task,
)

VALUE, F, CONST, APPLY, TABLE = 1, 2, 3, 4, 5
VAR = 6  # token of v_0
NUM_CONSTANTS = 2


@dataclass(frozen=True)
class Program:
    """``args[i]`` are v_i's operands (-1 for constants), ``const[i]`` its constant value."""

    args: np.ndarray
    const: np.ndarray
    table: np.ndarray
    depth: np.ndarray


def _clamp(answer: int, m: int) -> int:
    """An answer as a value in ``range(m)``, whatever the answerer returned."""
    return min(max(int(answer), 0), m - 1)


class SequentialAssignments(Task):
    name = "sequential_assignments"
    description = "program v_i := f(v_j, v_k) with f a table; question VALUE(v_i) -> its value"
    # one encoder layer run six times over, its facts computing the program's values
    config = {
        "steps": 2000,
        "model": {
            "relation_prior": 0.2,
            "attention_sink": {},
            "computed_tokens": {"answers": True, "from_slot": 1},
            "enc_layers": 1,
            "enc_repeat": 6,
        },
    }

    def __init__(self, size: int | None = None):
        super().__init__(size)
        n, self.m = self.size, 4
        self.max_depth = int(np.ceil(np.log2(n)))
        self.val0 = VAR + n  # token of the value 0
        self.vocab_size = n + self.m + 6
        self.answer_size = self.m
        self.answer_tokens = tuple(range(self.val0, self.val0 + self.m))
        self.num_facts = n + self.m * self.m
        self.fact_len = 4
        self.question_len = 3
        self.num_levels = self.max_depth + 1

    def value_question(self, i: int) -> Question:
        return (VALUE, VAR + i, PAD)

    def f_question(self, a: int, b: int) -> Question:
        return (F, self.val0 + a, self.val0 + b)

    def sample_instance(self, rng: np.random.Generator) -> Instance:
        n, m = self.size, self.m
        while True:  # plain Python on one draw of uniforms (numpy calls per variable: ~2 ms)
            u = rng.random((n, 4)).tolist()
            depth, args = [0] * NUM_CONSTANTS, [(-1, -1)] * NUM_CONSTANTS
            by_depth = [list(range(NUM_CONSTANTS))] + [[] for _ in range(self.max_depth)]
            for i in range(NUM_CONSTANTS, n):
                u_d, u_j, u_k, u_swap = u[i]
                d = 1 + int(u_d * min(self.max_depth, max(depth) + 1))
                j = by_depth[d - 1][int(u_j * len(by_depth[d - 1]))]
                below = [v for e in range(d) for v in by_depth[e]]
                k = below[int(u_k * len(below))]
                depth.append(d)
                args.append((k, j) if u_swap < 0.5 else (j, k))
                by_depth[d].append(i)
            if all(by_depth):
                break
        depth, args = np.array(depth), np.array(args, dtype=np.int64)
        const = np.where(args[:, 0] < 0, rng.integers(m, size=n), -1)
        table = rng.integers(m, size=(m, m))
        a0 = self.val0
        rows = [
            [APPLY, VAR + i, VAR + args[i, 0], VAR + args[i, 1]]
            if const[i] < 0
            else [CONST, VAR + i, a0 + const[i], PAD]
            for i in range(n)
        ]
        rows += [[TABLE, a0 + a, a0 + b, a0 + table[a, b]] for a in range(m) for b in range(m)]
        facts = np.array(rows, dtype=np.int64)[rng.permutation(len(rows))]
        return Instance(facts=facts, data=Program(args, const, table, depth))

    def read_instance(self, facts: np.ndarray) -> Instance:
        facts = self.fact_array(facts)
        n, m, a0, bad = self.size, self.m, self.val0, f"not an instance of {self.name}:"
        kind, x, y, z = facts.T
        table = kind == TABLE
        var, val = (facts >= VAR) & (facts < a0), (facts >= a0) & (facts < a0 + m)
        shapes = [var[:, 1] & val[:, 2] & (z == PAD), var[:, 1:].all(1), val[:, 1:].all(1)]
        if not np.select([kind == CONST, kind == APPLY, table], shapes, False).all():
            raise ValueError(f"{bad} a fact is not v := c, v := f(v, v) or f(a, b) = c")
        if not np.array_equal(np.sort(x[~table]), VAR + np.arange(n)):
            raise ValueError(f"{bad} not every v_i assigned once")
        if not np.array_equal(np.sort((x[table] - a0) * m + y[table] - a0), np.arange(m * m)):
            raise ValueError(f"{bad} f's table is not complete")
        program = facts[~table][np.argsort(x[~table])]
        args = np.where(program[:, :1] == APPLY, program[:, 2:] - VAR, -1)
        const = np.where(program[:, 0] == CONST, program[:, 2] - a0, -1)
        values = np.empty((m, m), dtype=np.int64)
        values[x[table] - a0, y[table] - a0] = z[table] - a0
        depth = [0] * n
        for i, (j, k) in enumerate(args.tolist()):
            if max(j, k) >= i:
                raise ValueError(f"{bad} v{i} uses a later variable")
            depth[i] = 0 if j < 0 else 1 + max(depth[j], depth[k])
        if max(depth) > self.max_depth:
            raise ValueError(f"{bad} deeper than {self.max_depth}")
        return Instance(facts=facts, data=Program(args, const, values, np.array(depth)))

    def question_forms(self) -> tuple[QuestionForm, ...]:
        variable = Slot("variable", tuple((VAR + i, f"v{i}") for i in range(self.size)))
        values = tuple((self.val0 + a, str(a)) for a in range(self.m))
        return (
            QuestionForm("value", (VALUE, variable, PAD)),
            QuestionForm("f", (F, Slot("a", values), Slot("b", values))),
        )

    def level_of(self, inst: Instance, question: Question) -> int:
        return 0 if question[0] == F else int(inst.data.depth[question[1] - VAR])

    def sample_question(self, rng: np.random.Generator, inst: Instance, level: int) -> Question:
        if level == 0 and rng.random() < 0.5:
            return self.f_question(int(rng.integers(self.m)), int(rng.integers(self.m)))
        return self.value_question(int(rng.choice(np.flatnonzero(inst.data.depth == level))))

    def fan_out(self, inst: Instance, question: Question) -> Step:
        prog = inst.data
        if question[0] == F:
            return int(prog.table[question[1] - self.val0, question[2] - self.val0])
        i = question[1] - VAR
        if prog.const[i] >= 0:
            return int(prog.const[i])
        j, k = (int(a) for a in prog.args[i])
        return tuple(self.value_question(a) for a in dict.fromkeys((j, k)))  # v_j once if k = j

    def fan_in(self, inst: Instance, question: Question, answered: Answered) -> Step:
        answers = {sub: _clamp(a, self.m) for sub, a in answered}
        if answered[0][0][0] == F:
            return answers[answered[0][0]]
        j, k = inst.data.args[question[1] - VAR]  # operands by lookup: order-free
        a, b = answers[self.value_question(int(j))], answers[self.value_question(int(k))]
        return (self.f_question(a, b),)

    def solve(self, inst: Instance, question: Question) -> int:
        prog = inst.data
        if question[0] == F:
            return int(prog.table[question[1] - self.val0, question[2] - self.val0])
        value = prog.const.copy()
        for i in range(question[1] - VAR + 1):
            if value[i] < 0:
                value[i] = prog.table[value[prog.args[i, 0]], value[prog.args[i, 1]]]
        return int(value[question[1] - VAR])

    def format_question(self, question: Question) -> str:
        if question[0] == F:
            return f"f({question[1] - self.val0}, {question[2] - self.val0})"
        return f"v{question[1] - VAR}"

    def format_fact(self, fact: np.ndarray) -> str:
        kind, x, y, z = (int(t) for t in fact)
        if kind == CONST:
            return f"v{x - VAR} := {y - self.val0}"
        if kind == APPLY:
            return f"v{x - VAR} := f(v{y - VAR}, v{z - VAR})"
        a0 = self.val0
        return f"f({x - a0}, {y - a0}) = {z - a0}"
