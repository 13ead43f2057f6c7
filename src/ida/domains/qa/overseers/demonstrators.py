"""Overseers other than a task's exact H: suboptimal demonstrators, to test what distillation
makes of worse demonstrations.

An overseer is any ``async (instance, question, ask) -> answer``; ``task.overseer`` is the exact
one. The wrappers change how H *answers* (its demonstrations), not how it *judges*: approval
(``Task.approval`` of the answer the exact decomposition reaches) stays H's own, modelling the
common case where judging an answer is easier than producing a good one.

* ``biased``: a fixed share ``rate`` of questions, picked by a hash of the question (so the
  same ones every time, in every instance), always gets an answer one token off H's. The error
  is systematic, so imitation can learn it, where random noise would average out.
* ``noisy``: answers wrongly with probability ``rate`` (a uniformly random other answer).
* ``wasteful``: asks every subquestion twice. Same answers, twice the subquestions.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from ida.core.errors import IdaError
from ida.domains.qa.tasks.base import Ask, Instance, Question, Task

Overseer = Callable[[Instance, Question, Ask], Awaitable[int]]
OVERSEERS = ("exact", "biased", "noisy", "wasteful", "learned", "human")


def _hash(*arrays) -> int:
    digest = 0
    for a in arrays:
        digest = zlib.crc32(np.ascontiguousarray(a, dtype=np.int64).tobytes(), digest)
    return digest


class Corrupting(ABC):
    """H with its final answers passed through ``corrupt`` (subclasses say how)."""

    def __init__(self, task: Task, rate: float):
        self.task, self.rate = task, rate

    @abstractmethod
    def corrupt(self, inst: Instance, question: Question, answer: int) -> int:
        """H's answer to ``question`` as this overseer gives it."""

    async def __call__(self, inst: Instance, question: Question, ask: Ask) -> int:
        return self.corrupt(inst, question, await self.task.overseer(inst, question, ask))


class Biased(Corrupting):
    """H, except that the questions in a fixed ``rate`` share get the answer after H's."""

    def is_biased(self, question: Question) -> bool:
        return _hash(question) < self.rate * 2**32

    def corrupt(self, inst: Instance, question: Question, answer: int) -> int:
        return (answer + 1) % self.task.answer_size if self.is_biased(question) else answer


class Noisy(Corrupting):
    """H answering wrongly with probability ``rate``: a uniformly random other answer. Which
    answers are wrong is a hash of the instance and question, so runs stay reproducible."""

    def corrupt(self, inst: Instance, question: Question, answer: int) -> int:
        digest = _hash(inst.facts, question)
        if digest >= self.rate * 2**32:
            return answer
        return (answer + 1 + digest % (self.task.answer_size - 1)) % self.task.answer_size


class _AskTwice:
    __slots__ = ("ask",)

    def __init__(self, ask: Ask):
        self.ask = ask

    async def __call__(self, question: Question) -> int:
        return (await self.all([question]))[0]

    async def all(self, questions: Sequence[Question]) -> list[int]:
        questions = list(questions)
        return (await self.ask.all(questions + questions))[: len(questions)]


class Wasteful:
    """H, asking every subquestion twice."""

    def __init__(self, task: Task):
        self.task = task

    async def __call__(self, inst: Instance, question: Question, ask: Ask) -> int:
        return await self.task.overseer(inst, question, _AskTwice(ask))


def make_overseer(
    task: Task, kind: str, bias_rate: float = 0.0, noise_rate: float = 0.0
) -> Overseer | None:
    """The overseer called ``kind``; None for the task's exact H (which ``learned`` is too: there
    H' imitates it, ``ida.domains.qa.amplify.learned``; and ``human``, where people are H and
    the exact H only marks their trees, ``ida.domains.qa.overseers.human``)."""
    if kind in ("exact", "learned", "human"):
        return None
    if kind == "biased":
        return Biased(task, bias_rate)
    if kind == "noisy":
        return Noisy(task, noise_rate)
    if kind == "wasteful":
        return Wasteful(task)
    raise IdaError(f"unknown overseer {kind!r}; choose one of: {', '.join(OVERSEERS)}")
