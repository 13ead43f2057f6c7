"""Shortest path: facts are the edges of a random digraph; questions ask distances within a budget.

Each of the n vertices has exactly 2 distinct out-neighbours (no self loops); the 2n edges are
the facts. DIST(a, b, k) is the distance from a to b if it is at most k, else NONE; NEXT(a, b, k)
is the first step of a shortest path from a to b (the smaller out-neighbour on ties) if the
distance is at most k, else NONE. H answers by lookup (level 0) when a = b, when b is an
out-neighbour of a, or when k = 1; otherwise it looks up a's out-neighbours c1 < c2, fans out to
DIST(c1, b, k-1) and DIST(c2, b, k-1) together and returns 1 + the smaller (DIST) or the
out-neighbour achieving it (NEXT). The budget k is what makes levels well founded: an
out-neighbour can be farther from b than a is, and without a budget H's recursion never ends
on unreachable pairs. So the level is k - 1 (0 for lookups), k runs 1..K with
K = min(n - 1, ceil(1.5 log2 n) + 1), and top-level questions are exact for all pairs within K
edges (99.7% of reachable pairs at n = 16, 98.5% at n = 64); farther pairs answer NONE.
Tokens: 0 PAD, 1 DIST, 2 NEXT, 3..n+2 the vertices, n+3..n+K+2 the budgets 1..K. Facts are
[u, v] edges, questions [type, a, b, k]. Answers: 0..n-1 a distance or a vertex, n NONE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ida.core.runs.config import merge
from ida.domains.qa.tasks.base import (
    Answered,
    Instance,
    Question,
    QuestionForm,
    Slot,
    Step,
    Task,
    closeness,
)

DIST, NEXT = 1, 2
VERTEX = 3  # token of vertex 0


@dataclass(frozen=True)
class Graph:
    """``out[u]``: u's two out-neighbours, ascending; ``dist[a, b]``: BFS distance, n if none."""

    out: np.ndarray
    dist: np.ndarray
    _pairs: dict[int, list[np.ndarray]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, out: np.ndarray) -> Graph:
        """The graph with out-neighbours ``out`` (each row ascending), its distances computed."""
        return cls(out, bfs_distances(out))

    def pairs(self, k: int) -> list[np.ndarray]:
        """The pairs at least 2 edges apart, as flat indices a * n + b, grouped by their answer
        within budget ``k`` (the distance, or NONE past k); computed once per budget."""
        if k not in self._pairs:
            n = len(self.out)
            answer = np.where(self.dist <= k, self.dist, n).ravel()
            far = np.flatnonzero(self.dist.ravel() >= 2)
            self._pairs[k] = [far[answer[far] == c] for c in np.unique(answer[far])]
        return self._pairs[k]


def bfs_distances(out: np.ndarray) -> np.ndarray:
    """All-pairs distances by breadth-first search from every vertex at once (n: unreachable)."""
    n = len(out)
    adjacency = np.zeros((n, n), dtype=np.float32)
    adjacency[np.arange(n)[:, None], out] = 1
    dist = np.full((n, n), n)
    frontier, d = np.eye(n, dtype=bool), 0  # frontier[source, vertex]
    while frontier.any():
        dist[frontier] = d
        frontier, d = (frontier.astype(np.float32) @ adjacency > 0) & (dist == n), d + 1
    return dist


def max_budget(n: int) -> int:
    """K, the largest budget a question asks about at size ``n``."""
    return min(n - 1, int(np.ceil(1.5 * np.log2(n))) + 1)


class ShortestPath(Task):
    name = "shortest_path"
    description = "edges of a 2-out digraph; DIST / NEXT (a, b, budget k) -> distance or first step"
    # the reach profile: seven moves cover every budget at size 16 (k <= 7)
    config = {
        "steps": 2000,
        "model": {"relation_prior": 0.2, "attention_sink": {}, "reach": {"moves": 7}},
    }

    @classmethod
    def recommended(cls, size: int | None) -> dict:
        """The profile counts moves up to the largest budget K (7 at size 16, 10 at 64)."""
        moves = max_budget(size or cls.default_size)
        return merge(cls.config, {"model": {"reach": {"moves": moves}}})

    def __init__(self, size: int | None = None):
        super().__init__(size)
        n = self.size
        self.max_budget = max_budget(n)
        self.none = n
        self.vocab_size = n + self.max_budget + 3
        self.answer_size = n + 1
        self.num_facts = 2 * n
        self.fact_len = 2
        self.question_len = 4
        self.num_levels = self.max_budget

    def question(self, kind: int, a: int, b: int, k: int) -> Question:
        return (kind, VERTEX + a, VERTEX + b, VERTEX + self.size - 1 + k)

    def decode(self, question: Question) -> tuple[int, int, int, int]:
        kind, a, b, k = question
        return kind, a - VERTEX, b - VERTEX, k - VERTEX - self.size + 1

    def sample_instance(self, rng: np.random.Generator) -> Instance:
        n = self.size
        out = np.sort((np.arange(n)[:, None] + 1 + rng.random((n, n - 1)).argsort(1)[:, :2]) % n)
        order = rng.permutation(2 * n)
        facts = VERTEX + np.column_stack([np.repeat(np.arange(n), 2), out.ravel()])[order]
        return Instance(facts=facts.astype(np.int64), data=Graph.of(out))

    def read_instance(self, facts: np.ndarray) -> Instance:
        facts, n = self.fact_array(facts), self.size
        edges = facts[np.lexsort(facts.T[::-1])] - VERTEX  # by source, then target
        out = edges[:, 1].reshape(n, 2)
        if (
            ((edges < 0) | (edges >= n)).any()
            or not np.array_equal(edges[:, 0], np.repeat(np.arange(n), 2))
            or (out[:, 0] == out[:, 1]).any()
            or (out == np.arange(n)[:, None]).any()
        ):
            raise ValueError(
                f"not an instance of {self.name}: each vertex needs 2 distinct out-neighbours, "
                "no self loops"
            )
        return Instance(facts=facts, data=Graph.of(out))

    def question_forms(self) -> tuple[QuestionForm, ...]:
        vertices = tuple((VERTEX + v, str(v)) for v in range(self.size))
        budget = Slot(
            "k", tuple((VERTEX + self.size - 1 + k, str(k)) for k in range(1, self.max_budget + 1))
        )
        slots = (Slot("a", vertices), Slot("b", vertices), budget)
        return tuple(
            QuestionForm(name, (kind, *slots)) for name, kind in (("dist", DIST), ("next", NEXT))
        )

    def level_of(self, inst: Instance, question: Question) -> int:
        _, a, b, k = self.decode(question)
        return 0 if k == 1 or inst.data.dist[a, b] <= 1 else k - 1

    def sample_question(self, rng: np.random.Generator, inst: Instance, level: int) -> Question:
        """Level 0: a lookup. Higher: budget level + 1 and a pair a, b at least 2 edges apart,
        drawn so that every answer class (distances 2..k, NONE) present is equally likely."""
        n, graph = self.size, inst.data
        kind = DIST if rng.random() < 0.5 else NEXT
        if level == 0:
            a, k = int(rng.integers(n)), int(rng.integers(1, self.max_budget + 1))
            if k == 1:  # anywhere (NEXT: but a itself)
                b = int(rng.integers(n)) if kind == DIST else (a + 1 + int(rng.integers(n - 1))) % n
            else:  # an out-neighbour (DIST: or a itself)
                near = [*graph.out[a].tolist(), *([a] if kind == DIST else [])]
                b = near[int(rng.integers(len(near)))]
            return self.question(kind, a, b, k)
        k = level + 1
        groups = graph.pairs(k)
        group = groups[int(rng.integers(len(groups)))]
        a, b = divmod(int(group[int(rng.integers(len(group)))]), n)
        return self.question(kind, a, b, k)

    def fan_out(self, inst: Instance, question: Question) -> Step:
        kind, a, b, k = self.decode(question)
        out = [int(c) for c in inst.data.out[a]]
        if a == b:
            return 0 if kind == DIST else self.none
        if b in out:
            return 1 if kind == DIST else b
        if k == 1:
            return self.none
        return tuple(self.question(DIST, c, b, k - 1) for c in out)

    def fan_in(self, inst: Instance, question: Question, answered: Answered) -> Step:
        kind, _, _, k = self.decode(question)
        usable = [(int(d), self.decode(sub)[1]) for sub, d in answered if 0 <= d < k]
        if not usable:
            return self.none
        d, c = min(usable)
        return d + 1 if kind == DIST else c

    def solve(self, inst: Instance, question: Question) -> int:
        kind, a, b, k = self.decode(question)
        dist = inst.data.dist
        if dist[a, b] > k or (kind == NEXT and a == b):
            return self.none
        if kind == DIST:
            return int(dist[a, b])
        return next(int(c) for c in inst.data.out[a] if dist[c, b] == dist[a, b] - 1)

    def approval(self, question: Question, reference: int) -> np.ndarray:
        """A DIST answer off by d from a finite reference distance earns 1 / (1 + d)."""
        if question[0] != DIST or reference == self.none:
            return super().approval(question, reference)
        scores = closeness(np.arange(self.answer_size), reference)
        scores[self.none] = 0.0
        return scores

    def format_question(self, question: Question) -> str:
        kind, a, b, k = self.decode(question)
        return f"{'dist' if kind == DIST else 'next'}({a}, {b}) within {k}"

    def format_answer(self, answer: int) -> str:
        return "none" if answer == self.none else str(answer)

    def format_fact(self, fact: np.ndarray) -> str:
        return f"{fact[0] - VERTEX} -> {fact[1] - VERTEX}"
