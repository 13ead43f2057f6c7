"""The task protocol: what a question-answering task provides so that it can be amplified and
distilled.

A task samples *instances* (a context of facts, encoded once by the model) and *questions*
about them at a difficulty level. Its overseer ``H`` answers a simple question by one fact
lookup and otherwise asks subquestions through ``ask`` and combines the answers; it is ordinary
``async`` code that never sees who answers (the model, ``H`` again, or an oracle). ``solve`` is
the exact answer, used only for evaluation and the supervised baseline, never for IDA training.

H is given either as ordinary async code (``overseer``) or, as adversarial IDA needs, in the
weak HCH protocol with at most two subquestions at a time: ``fan_out(Q)`` -> an answer or
subquestions; ``fan_in(Q, answered subquestions)`` -> an answer or more subquestions.

Questions are tuples of input tokens (length ``question_len``), facts are rows of input tokens
(length ``fact_len``, padded with ``PAD`` rows up to ``num_facts``), and answers are one token in
``range(answer_size)``. Token 0 is reserved as ``PAD`` in every task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from ida.core.errors import IdaError

PAD = 0
Question = tuple[int, ...]
Step = int | tuple[Question, ...]  # H's move in weak HCH: an answer, or one or two subquestions
Answered = tuple[tuple[Question, int], ...]  # subquestions with their answers
MAX_FAN_INS = 8


def _is_token(t: object) -> bool:
    """Whether ``t`` is an integer token (a Python or numpy int, not a bool)."""
    return isinstance(t, int | np.integer) and not isinstance(t, bool)


@dataclass(frozen=True)
class Slot:
    """One free position of a question form: its label and the (token, text) choices."""

    label: str
    options: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class QuestionForm:
    """A kind of question as a person builds it: each position a fixed token or a Slot."""

    name: str
    parts: tuple[int | Slot, ...]

    def build(self, choices: Sequence[int]) -> Question:
        """The question with ``choices`` (one token per Slot, in order) filled in."""
        slots = [part for part in self.parts if isinstance(part, Slot)]
        if len(choices) != len(slots):
            raise ValueError(f"form {self.name} takes {len(slots)} choices, got {len(choices)}")
        for slot, choice in zip(slots, choices, strict=True):
            if not _is_token(choice) or all(choice != token for token, _ in slot.options):
                raise ValueError(f"form {self.name}: {choice!r} is not a choice for {slot.label}")
        filled = iter(choices)
        return tuple(int(next(filled)) if isinstance(p, Slot) else p for p in self.parts)

    def fits(self, question: Sequence[int]) -> bool:
        """Whether ``question`` is of this form (every token fixed or among its slot's options)."""
        return len(question) == len(self.parts) and all(
            _is_token(t)
            and (any(t == token for token, _ in p.options) if isinstance(p, Slot) else t == p)
            for t, p in zip(question, self.parts, strict=True)
        )


@dataclass
class Instance:
    """One context: ``facts`` is an int array [num_facts, fact_len]; ``data`` is task-private."""

    facts: np.ndarray
    data: Any


class Ask(Protocol):
    """How an overseer asks subquestions; the amplifier decides who answers them."""

    def __call__(self, question: Question) -> Awaitable[int]: ...

    def all(self, questions: Sequence[Question]) -> Awaitable[list[int]]: ...


class Task(ABC):
    """A task: instances, questions by difficulty, the overseer H and the exact solver."""

    name: ClassVar[str]
    description: ClassVar[str]
    min_size: ClassVar[int] = 4
    max_size: ClassVar[int] = 128
    default_size: ClassVar[int] = 16
    # the settings ``ida train TASK`` runs with, over the domain's defaults (``QAConfig``)
    config: ClassVar[dict[str, Any]] = {}

    @classmethod
    def recommended(cls, size: int | None) -> dict[str, Any]:
        """The settings ``ida train`` uses for this task at ``size`` (default: ``config``)."""
        return cls.config

    # Set by each subclass's __init__ from the size.
    vocab_size: int
    answer_size: int
    num_facts: int
    fact_len: int
    question_len: int
    num_levels: int
    # the fact token that stands for each answer, where facts hold answers (None: they do not)
    answer_tokens: tuple[int, ...] | None = None

    def __init__(self, size: int | None = None):
        size = self.default_size if size is None else size
        if not isinstance(size, int) or not self.min_size <= size <= self.max_size:
            raise IdaError(
                f"{self.name}: size must be an integer from {self.min_size} to {self.max_size}, "
                f"got {size!r}"
            )
        self.size = size

    @abstractmethod
    def sample_instance(self, rng: np.random.Generator) -> Instance:
        """A fresh random context (facts in random order, padded to ``num_facts`` rows)."""

    @abstractmethod
    def sample_question(self, rng: np.random.Generator, inst: Instance, level: int) -> Question:
        """A random question about ``inst`` at difficulty ``level`` in ``range(num_levels)``.

        Level 0 questions are simple: the overseer answers them with one lookup."""

    @abstractmethod
    def level_of(self, inst: Instance, question: Question) -> int:
        """The difficulty level of ``question`` about ``inst``, in ``range(num_levels)``.

        Every subquestion H asks (given true answers) is of a strictly lower level or of level 0,
        so a curriculum can train the levels in order."""

    def fan_out(self, inst: Instance, question: Question) -> Step:
        """Weak HCH, H's first move on ``question``: an answer (by a fact lookup), or a tuple of
        one or two subquestions. Tasks either implement ``fan_out`` and ``fan_in`` (the weak HCH
        protocol, which adversarial IDA needs) or override ``overseer`` directly."""
        raise NotImplementedError(f"{self.name}: H does not speak weak HCH (no fan_out)")

    def fan_in(self, inst: Instance, question: Question, answered: Answered) -> Step:
        """Weak HCH, H's next move once its last subquestions are ``answered`` ((subquestion,
        answer) pairs): an answer, or one or two more subquestions. It must not depend on the
        order of ``answered``, and must end in an answer whatever the answers were."""
        raise NotImplementedError(f"{self.name}: H does not speak weak HCH (no fan_in)")

    def next_step(self, inst: Instance, question: Question, answered: Answered) -> Step:
        """H's next weak HCH step: ``fan_out`` if nothing is ``answered`` yet, else ``fan_in``."""
        if answered:
            return self.fan_in(inst, question, answered)
        return self.fan_out(inst, question)

    async def overseer(self, inst: Instance, question: Question, ask: Ask) -> int:
        """H: answer by one fact lookup if simple, else ask subquestions and combine them.

        By default it runs the weak HCH protocol (``fan_out``, then ``fan_in`` until an answer).
        Must return a valid answer token whatever (possibly wrong) answers ``ask`` returns."""
        return await weak_hch(self, inst, question, ask)

    @abstractmethod
    def solve(self, inst: Instance, question: Question) -> int:
        """The exact answer (evaluation and the supervised baseline only)."""

    def question_forms(self) -> tuple[QuestionForm, ...]:
        """The kinds of question the task asks (sampled or as H's subquestions), as forms."""
        raise NotImplementedError(f"{self.name}: no question forms (a person cannot build one)")

    def check_question(self, question: Sequence[int]) -> Question:
        """``question`` as a tuple of ints if it fits one of the forms, else a ValueError."""
        try:
            tokens = tuple(question)
        except TypeError:
            raise ValueError(
                f"not a question of {self.name}: {question!r} is not a sequence"
            ) from None
        if not all(map(_is_token, tokens)):
            raise ValueError(f"not a question of {self.name}: {tokens!r} holds a non-integer")
        if len(tokens) != self.question_len:
            raise ValueError(
                f"not a question of {self.name}: {len(tokens)} tokens, not {self.question_len}"
            )
        forms = self.question_forms()
        if not any(form.fits(tokens) for form in forms):
            names = ", ".join(form.name for form in forms)
            raise ValueError(f"not a question of {self.name}: {tokens} fits none of {names}")
        return tuple(int(t) for t in tokens)

    def read_instance(self, facts: np.ndarray) -> Instance:
        """The instance rebuilt from its facts alone (what a person sees); ValueError if they
        are not a valid instance of the task."""
        raise NotImplementedError(f"{self.name}: cannot rebuild an instance from its facts")

    def fact_array(self, facts: np.ndarray) -> np.ndarray:
        """``facts`` as an int64 [num_facts, fact_len] array of tokens, else a ValueError."""
        try:
            array = np.asarray(facts)
        except (TypeError, ValueError):  # ragged rows, say
            array = np.asarray(None)
        shape = (self.num_facts, self.fact_len)
        if array.shape != shape or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"not an instance of {self.name}: facts must be a {shape[0]} x {shape[1]} "
                f"integer array, got {array.dtype} of shape {array.shape}"
            )
        if array.size and not 0 <= array.min() <= array.max() < self.vocab_size:
            raise ValueError(f"not an instance of {self.name}: a fact token is out of range")
        return array.astype(np.int64)

    def approval(self, question: Question, reference: int) -> np.ndarray:
        """H's graded approval, in [0, 1], of every answer to ``question`` once its decomposition
        has reached the answer ``reference``: 1 for the reference, and by default 0 for anything
        else. Tasks whose answers are quantities give near misses partial credit (``closeness``)."""
        scores = np.zeros(self.answer_size, dtype=np.float32)
        scores[reference] = 1.0
        return scores

    def format_question(self, question: Question) -> str:
        """Human-readable question, for traces and ``ida show``."""
        return " ".join(map(str, question))

    def format_answer(self, answer: int) -> str:
        """Human-readable answer token."""
        return str(answer)

    def format_fact(self, fact: np.ndarray) -> str:
        """Human-readable fact row."""
        return " ".join(map(str, fact.tolist()))


def speaks_weak_hch(task: Task) -> bool:
    """Whether the task's H is given as ``fan_out`` / ``fan_in``."""
    return type(task).fan_out is not Task.fan_out and type(task).fan_in is not Task.fan_in


class Fan(Protocol):
    """A stand-in for H's fan-out/fan-in (a learned imitation, say): the next step on
    ``question`` once ``answered`` (empty: fan-out); ``last`` says it must be an answer."""

    def __call__(
        self, inst: Instance, question: Question, answered: Answered, last: bool
    ) -> Awaitable[Step]: ...


Transcript = list[tuple[Instance, Question, Answered, Step]]  # H's steps, as they were taken


async def weak_hch(
    task: Task,
    inst: Instance,
    question: Question,
    ask: Ask,
    fan: Fan | None = None,
    record: Transcript | None = None,
) -> int:
    """Run the weak HCH protocol on ``question``: fan out; while the overseer wants subquestions,
    ask them (both at once) and fan in their answers. The overseer is H (the task's ``fan_out``
    and ``fan_in``) unless ``fan`` stands in for it; ``record`` gets every step taken."""
    answered: Answered = ()
    for turn in range(MAX_FAN_INS + 1):
        if fan is not None:
            step = await fan(inst, question, answered, turn == MAX_FAN_INS)
        else:
            step = task.next_step(inst, question, answered)
        if record is not None:
            record.append((inst, question, answered, step))
        if not isinstance(step, tuple):
            return int(step)
        if not 1 <= len(step) <= 2:
            raise ValueError(f"{task.name}: H asked {len(step)} subquestions, not 1 or 2")
        answers = await ask.all(step)
        answered = tuple(zip(step, answers, strict=True))
    raise RuntimeError(f"{task.name}: H did not answer {question} within {MAX_FAN_INS} fan-ins")


def closeness(values: np.ndarray, reference: int) -> np.ndarray:
    """Partial credit for quantities: 1 / (1 + |value - reference|)."""
    return (1.0 / (1.0 + np.abs(values - reference))).astype(np.float32)
