"""Wildcard search: facts map n binary strings to +1 or -1; a pattern -> the sum over its matches.

The strings are n distinct ones of length w, the smallest with 2^w >= 2n (so about half of all
strings are listed); unlisted strings count 0. A question is a pattern of length w over
{0, 1, *}. H answers a pattern without wildcards by looking up its string (level 0); otherwise
it asks for the two patterns with the first ``*`` replaced by 0 and by 1, together, and adds the
answers. The level is the number of wildcards, 0..w, so each subquestion is one level lower.
Tokens: 0 PAD, 1 ``0``, 2 ``1``, 3 ``*``, 4 the value -1, 5 the value +1. Facts are
[bits..., value], questions the w pattern tokens. Answers are sum + n in range(2n + 1).
"""

from __future__ import annotations

import numpy as np

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

ZERO, ONE, STAR, MINUS, PLUS = 1, 2, 3, 4, 5


class WildcardSearch(Task):
    name = "wildcard_search"
    description = "facts map binary strings to +-1; pattern over {0,1,*} -> sum over its matches"
    # the answer slot's match, a quarter of each batch at the newest level, a slower teacher
    config = {
        "model": {"relation_prior": 0.2, "attention_sink": {}, "answer_match": {}},
        "advance_at": 0.9,
        "curriculum_focus": 0.25,
        "ema": 0.995,
    }

    def __init__(self, size: int | None = None):
        super().__init__(size)
        n = self.size
        self.width = int(np.ceil(np.log2(2 * n)))
        self.vocab_size = 6
        self.answer_size = 2 * n + 1
        self.num_facts = n
        self.fact_len = self.width + 1
        self.question_len = self.width
        self.num_levels = self.width + 1
        # Row s: the bit tokens of the string with index s (most significant bit first).
        shifts = np.arange(self.width - 1, -1, -1)
        self.strings = ZERO + ((np.arange(2**self.width)[:, None] >> shifts) & 1)

    def sample_instance(self, rng: np.random.Generator) -> Instance:
        n = self.size
        listed = rng.choice(2**self.width, size=n, replace=False)
        signs = rng.choice([-1, 1], size=n)
        return self.instance(listed, signs)

    def instance(self, listed: np.ndarray, signs: np.ndarray) -> Instance:
        """The instance mapping the strings with indices ``listed`` to ``signs`` (+-1)."""
        table = np.zeros(2**self.width, dtype=np.int64)
        table[listed] = signs
        facts = np.column_stack([self.strings[listed], np.where(signs > 0, PLUS, MINUS)])
        return Instance(facts=facts.astype(np.int64), data=table)

    def read_instance(self, facts: np.ndarray) -> Instance:
        facts = self.fact_array(facts)
        bits, values = facts[:, :-1] - ZERO, facts[:, -1]
        listed = bits @ (1 << np.arange(self.width - 1, -1, -1))
        if ((bits < 0) | (bits > 1)).any() or not np.isin(values, (MINUS, PLUS)).all():
            raise ValueError(f"not an instance of {self.name}: a fact is not bits -> +-1")
        if len(np.unique(listed)) < self.size:
            raise ValueError(f"not an instance of {self.name}: a string is listed twice")
        return self.instance(listed, np.where(values == PLUS, 1, -1))

    def question_forms(self) -> tuple[QuestionForm, ...]:
        options = ((ZERO, "0"), (ONE, "1"), (STAR, "*"))
        return (
            QuestionForm("sum", tuple(Slot(f"bit {i + 1}", options) for i in range(self.width))),
        )

    def level_of(self, inst: Instance, question: Question) -> int:
        return question.count(STAR)

    def sample_question(self, rng: np.random.Generator, inst: Instance, level: int) -> Question:
        pattern = ZERO + rng.integers(2, size=self.width)
        pattern[rng.choice(self.width, size=level, replace=False)] = STAR
        return tuple(int(t) for t in pattern)

    def fan_out(self, inst: Instance, question: Question) -> Step:
        if STAR not in question:
            index = int("".join(str(t - ZERO) for t in question), 2)
            return int(inst.data[index]) + self.size
        i = question.index(STAR)
        return tuple(question[:i] + (bit,) + question[i + 1 :] for bit in (ZERO, ONE))

    def fan_in(self, inst: Instance, question: Question, answered: Answered) -> Step:
        n = self.size
        total = sum(min(max(int(a), 0), 2 * n) - n for _, a in answered)
        return min(max(total, -n), n) + n

    def solve(self, inst: Instance, question: Question) -> int:
        pattern = np.array(question)
        matches = ((pattern == STAR) | (self.strings == pattern)).all(axis=1)
        return int(inst.data[matches].sum()) + self.size

    def approval(self, question: Question, reference: int) -> np.ndarray:
        """A sum off by d from the reference earns 1 / (1 + d)."""
        return closeness(np.arange(self.answer_size), reference)

    def format_question(self, question: Question) -> str:
        return "sum " + "".join("01*"[t - ZERO] for t in question)

    def format_answer(self, answer: int) -> str:
        return f"{answer - self.size:+d}"

    def format_fact(self, fact: np.ndarray) -> str:
        bits = "".join("01"[t - ZERO] for t in fact[:-1])
        return f"{bits} -> {'+1' if fact[-1] == PLUS else '-1'}"
