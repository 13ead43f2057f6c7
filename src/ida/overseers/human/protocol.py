"""What the queue and its two sides exchange, with nothing to import beyond the core: a step's
context and its memo key, the ``Post`` the asking side sends, the ``Held`` assignment a person
gets, the ``Move`` they make, and the ``QueueError`` a refused request is."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ida.core.errors import IdaError

Move = dict[str, Any]  # {"answer": A} or {"ask": [question, ...]}, in the domain's own values


class QueueError(IdaError):
    """A request the queue refuses; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def step_key(task: str, size: int, context: dict) -> str:
    """The memo key of a step: a hash of the task and the context H sees."""
    parts = [task, size, context["facts"], context["question"], context["answered"]]
    if context.get("last"):  # H's last turn on the question: it must answer
        parts.append("last")
    canonical = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def context_of(facts: list, question: Sequence[int], answered: Iterable, last=False) -> dict:
    """A question-answering step's context as stored (other domains store their own JSON):
    facts rows, the question, [[subquestion, answer], ...], and ``last`` where it is H's last
    turn on the question (only an answer will do)."""
    context = {
        "facts": facts,
        "question": [int(t) for t in question],
        "answered": [[[int(t) for t in q], int(a)] for q, a in answered],
    }
    if last:
        context["last"] = True
    return context


def form_int(fields: dict, name: str) -> int:
    """The form field ``name`` as a non-negative integer, else a ``QueueError`` (422)."""
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip().isdigit() or len(value.strip()) > 18:
        raise QueueError(f"choose {name.split('_')[0]}", 422)
    return int(value)


def is_answer(move: Move) -> bool:
    return "answer" in move


@dataclass(frozen=True)
class Post:
    """A step to ask: its context and what the workbench shows beside it."""

    context: dict
    level: int = 0
    suggestion: int | None = None  # the model's answer to the question
    suspicion: float | None = None  # how suspect that answer is, in [0, 1]; orders the queue
    origin: int | None = None  # the subquestion this step's chain answers


@dataclass(frozen=True)
class Held:
    """An assignment as its holder sees it."""

    assignment: int
    fence: int
    lease_until: float
    step: int
    key: str
    run: str
    task: str
    size: int
    level: int
    context: dict
    suggestion: int | None
    suspicion: float | None
