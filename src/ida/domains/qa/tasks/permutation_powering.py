"""Permutation powering: facts are the pairs (x, s(x)) of a permutation s; (x, k) -> s^k(x).

H answers k = 1 by looking up the fact for x. Otherwise (weak HCH, one subquestion at a time) it
fans out to y = s^(k//2)(x), then fans in to z = s^(k - k//2)(y), which is the answer. The two
stages differ in the subquestion's exponent, or (even k) in its start, unless y = x, and then
s^k(x) = x. Level l holds k in (2^(l-1), 2^l]; level 0 is k = 1.
Tokens: 0 PAD, 1..n the elements, n+1..2n the exponents 1..n. Answers are elements 0..n-1.
"""

from __future__ import annotations

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
)


class PermutationPowering(Task):
    name = "permutation_powering"
    description = "facts (x, s(x)) of a permutation s; question (x, k) -> s^k(x)"
    # the link walk: s^k(x) is one read at the fact k - 1 moves on from x's
    config = {"steps": 1500, "model": {"relation_prior": 0.2, "link_walk": {"moves": 16}}}

    @classmethod
    def recommended(cls, size: int | None) -> dict:
        """At size n, s^k(x) is n - 1 moves on at most: the walk takes at least that many."""
        moves = max(16, (size or cls.default_size) - 1)
        return merge(cls.config, {"model": {"link_walk": {"moves": moves}}})

    def __init__(self, size: int | None = None):
        super().__init__(size)
        n = self.size
        self.vocab_size = 2 * n + 1
        self.answer_size = n
        self.num_facts = n
        self.fact_len = 2
        self.question_len = 2
        self.num_levels = int(np.ceil(np.log2(n))) + 1

    def question(self, x: int, k: int) -> Question:
        return (x + 1, self.size + k)

    def decode(self, question: Question) -> tuple[int, int]:
        return question[0] - 1, question[1] - self.size

    def sample_instance(self, rng: np.random.Generator) -> Instance:
        n = self.size
        perm = rng.permutation(n)
        order = rng.permutation(n)
        facts = np.stack([order + 1, perm[order] + 1], axis=1)
        return Instance(facts=facts.astype(np.int64), data=perm)

    def read_instance(self, facts: np.ndarray) -> Instance:
        facts = self.fact_array(facts)
        elements = np.arange(1, self.size + 1)
        for column in facts.T:
            if not np.array_equal(np.sort(column), elements):
                raise ValueError(f"not an instance of {self.name}: s is not a permutation")
        perm = np.empty(self.size, dtype=np.int64)
        perm[facts[:, 0] - 1] = facts[:, 1] - 1
        return Instance(facts=facts, data=perm)

    def question_forms(self) -> tuple[QuestionForm, ...]:
        n = self.size
        x = Slot("x", tuple((x + 1, str(x)) for x in range(n)))
        k = Slot("k", tuple((n + k, str(k)) for k in range(1, n + 1)))
        return (QuestionForm("power", (x, k)),)

    def level_of(self, inst: Instance, question: Question) -> int:
        return (self.decode(question)[1] - 1).bit_length()

    def sample_question(self, rng: np.random.Generator, inst: Instance, level: int) -> Question:
        lo = 1 if level == 0 else 2 ** (level - 1) + 1
        hi = min(2**level, self.size)
        return self.question(int(rng.integers(self.size)), int(rng.integers(lo, hi + 1)))

    def fan_out(self, inst: Instance, question: Question) -> Step:
        x, k = self.decode(question)
        if k == 1:
            return int(inst.data[x])
        return (self.question(x, k // 2),)

    def fan_in(self, inst: Instance, question: Question, answered: Answered) -> Step:
        x, k = self.decode(question)
        ((sub, y),) = answered
        y = min(max(int(y), 0), self.size - 1)
        if self.decode(sub) != (x, k // 2) or (k % 2 == 0 and y == x):
            return y  # the second stage's answer, or s^(k/2)(x) = x so s^k(x) = x
        return (self.question(y, k - k // 2),)

    def solve(self, inst: Instance, question: Question) -> int:
        x, k = self.decode(question)
        for _ in range(k):
            x = inst.data[x]
        return int(x)

    def format_question(self, question: Question) -> str:
        x, k = self.decode(question)
        return f"s^{k}({x})"

    def format_fact(self, fact: np.ndarray) -> str:
        return f"s({fact[0] - 1}) = {fact[1] - 1}"
