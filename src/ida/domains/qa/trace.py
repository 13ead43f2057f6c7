"""The record of one amplification tree: who answered which question, and what it cost.

One record serves three readers: distillation (the root's answer is the training target),
accounting (overseer and model calls are counted from it) and people (``ida show``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from ida.domains.qa.tasks.base import Question

OVERSEER = "overseer"  # H decomposed the question into subquestions
LOOKUP = "lookup"  # H answered directly from one fact
MODEL = "model"  # the model A answered
LEARNED = "learned"  # H', the learned overseer (an imitation of H), decomposed the question


@dataclass
class Node:
    """One question in a tree, its answer, who gave it and the subquestions behind it."""

    question: Question
    answer: int = -1
    by: str = MODEL
    depth: int = 0
    children: list[Node] = field(default_factory=list)
    guess: int | None = None  # the model's answer, where H was consulted in its place
    score: float | None = None  # the selector's score of ``guess`` (the adversary's, say)

    def walk(self) -> Iterator[Node]:
        """Every node of the tree, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def costs(self) -> Counter:
        """How many questions each kind of answerer handled in this tree."""
        return Counter(node.by for node in self.walk())

    @property
    def overseer_calls(self) -> int:
        """Times H was consulted (decompositions and lookups)."""
        return overseer_calls(self.costs())


def overseer_calls(costs: Counter) -> int:
    """Calls to H in ``costs`` (answerer -> questions handled): decompositions and lookups."""
    return costs[OVERSEER] + costs[LOOKUP]
