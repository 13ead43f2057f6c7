"""Union find: equalities x = y join n variables into classes; question: a variable's value.

The variables fall into c = n // (D + 1) classes, D = max(1, ceil(log2 n) - 1). Each class is a
random tree given by facts ``x_child = x_parent``, plus one fact ``x_root := value`` (values in
range(n)). Questions are VALUE(v) and the helper ROOT(v), the root of v's tree. H answers both
for a root by lookup (level 0). Otherwise, for ROOT(v) it looks up v's parent p and fans out to
ROOT(p); for VALUE(v) it fans out to ROOT(v) and, given its answer r, fans in to VALUE(r). So
ROOT(v) has level depth(v), and VALUE(v) of a non-root has level depth(v) + 1 (its ROOT
subquestion is one level lower, its VALUE(r) subquestion level 0). To make trees deep, each new
member of a class hangs from one of the last two earlier members of depth below D; instances
missing some depth 0..D are resampled, so all levels 0..D + 1 occur.
Tokens: 0 PAD, 1 VALUE, 2 ROOT, 3 ``=`` / 4 ``:=`` fact kinds, 5..n+4 the variables, n+5..2n+4
the values. Facts [kind, x, y], questions [type, x]. Answers: a value or a variable, 0..n-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ida.domains.qa.tasks.base import (
    Answered,
    Instance,
    Question,
    QuestionForm,
    Slot,
    Step,
    Task,
)

VALUE, ROOT, EQUALS, ASSIGN = 1, 2, 3, 4
VAR = 5  # token of x_0


@dataclass(frozen=True)
class Forest:
    """``parent[v]`` (-1 at roots), ``value[v]`` (-1 off roots) and ``depth[v]`` (0 at roots)."""

    parent: np.ndarray
    value: np.ndarray
    depth: np.ndarray


def _clamp(answer: int, n: int) -> int:
    """An answer as a variable or value in ``range(n)``, whatever the answerer returned."""
    return min(max(int(answer), 0), n - 1)


class UnionFind(Task):
    name = "union_find"
    description = "equalities x = y and root values; question VALUE(x) -> the value of x's class"

    def __init__(self, size: int | None = None):
        super().__init__(size)
        n = self.size
        self.max_depth = max(1, int(np.ceil(np.log2(n))) - 1)
        self.num_classes = n // (self.max_depth + 1)
        self.vocab_size = 2 * n + 5
        self.answer_size = n
        self.num_facts = n
        self.fact_len = 3
        self.question_len = 2
        self.num_levels = self.max_depth + 2

    def sample_instance(self, rng: np.random.Generator) -> Instance:
        n, c = self.size, self.num_classes
        while True:  # plain Python on one draw of uniforms (numpy calls per member: ~0.5 ms)
            parent, depth = [-1] * n, [0] * n
            sizes = 1 + rng.multinomial(n - c, np.full(c, 1 / c))
            order, coins = rng.permutation(n).tolist(), rng.random(n).tolist()
            start = 0
            for size in sizes.tolist():
                members = order[start : start + size]
                for i, v in enumerate(members[1:], start=1):
                    shallow = [u for u in members[:i] if depth[u] < self.max_depth][-2:]
                    p = shallow[int(coins[v] * len(shallow))]
                    parent[v], depth[v] = p, depth[p] + 1
                start += size
            if len(set(depth)) == self.max_depth + 1:
                break
        parent, depth = np.array(parent), np.array(depth, dtype=np.int64)
        value = np.where(parent < 0, rng.integers(n, size=n), -1)
        rows = [
            [ASSIGN, VAR + v, VAR + n + value[v]]
            if parent[v] < 0
            else [EQUALS, VAR + v, VAR + parent[v]]
            for v in rng.permutation(n)
        ]
        return Instance(facts=np.array(rows, dtype=np.int64), data=Forest(parent, value, depth))

    def read_instance(self, facts: np.ndarray) -> Instance:
        facts, n, bad = self.fact_array(facts), self.size, f"not an instance of {self.name}:"
        kind, x, y = (facts - [0, VAR, VAR]).T
        is_var = (0 <= x) & (x < n) & (0 <= y) & (y < 2 * n)
        if not (is_var & np.where(kind == EQUALS, y < n, (kind == ASSIGN) & (y >= n))).all():
            raise ValueError(f"{bad} a fact is neither x = y nor x := value")
        if not np.array_equal(np.sort(x), np.arange(n)):
            raise ValueError(f"{bad} not every variable has exactly one fact")
        parent, value = np.full(n, -1), np.full(n, -1)
        parent[x], value[x] = np.where(kind == EQUALS, y, -1), np.where(kind == ASSIGN, y - n, -1)
        depth = np.where(parent < 0, 0, -1)
        for _ in range(n):  # settle one more level of every tree per round
            ready = (depth < 0) & (depth[parent] >= 0)
            depth[ready] = depth[parent[ready]] + 1
        if (depth < 0).any() or depth.max() > self.max_depth:
            raise ValueError(f"{bad} the equalities are not trees of depth <= {self.max_depth}")
        return Instance(facts=facts, data=Forest(parent, value, depth))

    def question_forms(self) -> tuple[QuestionForm, ...]:
        variable = Slot("variable", tuple((VAR + v, f"x{v}") for v in range(self.size)))
        return (QuestionForm("value", (VALUE, variable)), QuestionForm("root", (ROOT, variable)))

    def level_of(self, inst: Instance, question: Question) -> int:
        depth = int(inst.data.depth[question[1] - VAR])
        return depth + 1 if question[0] == VALUE and depth > 0 else depth

    def sample_question(self, rng: np.random.Generator, inst: Instance, level: int) -> Question:
        depth = inst.data.depth
        value_level = np.where(depth > 0, depth + 1, 0)
        choices = [(ROOT, v) for v in np.flatnonzero(depth == level)]
        choices += [(VALUE, v) for v in np.flatnonzero(value_level == level)]
        kind, v = choices[rng.integers(len(choices))]
        return (kind, VAR + int(v))

    def fan_out(self, inst: Instance, question: Question) -> Step:
        forest = inst.data
        kind, v = question[0], question[1] - VAR
        if forest.parent[v] < 0:
            return v if kind == ROOT else int(forest.value[v])
        if kind == ROOT:
            return ((ROOT, VAR + int(forest.parent[v])),)
        return ((ROOT, VAR + v),)

    def fan_in(self, inst: Instance, question: Question, answered: Answered) -> Step:
        ((sub, answer),) = answered
        answer = _clamp(answer, self.size)
        if question[0] == VALUE and sub[0] == ROOT:
            return ((VALUE, VAR + answer),)
        return answer

    def solve(self, inst: Instance, question: Question) -> int:
        forest, v = inst.data, question[1] - VAR
        while forest.parent[v] >= 0:
            v = int(forest.parent[v])
        return v if question[0] == ROOT else int(forest.value[v])

    def format_question(self, question: Question) -> str:
        return f"{'value' if question[0] == VALUE else 'root'}(x{question[1] - VAR})"

    def format_fact(self, fact: np.ndarray) -> str:
        kind, x, y = (int(t) for t in fact)
        if kind == EQUALS:
            return f"x{x - VAR} = x{y - VAR}"
        return f"x{x - VAR} := {y - VAR - self.size}"
