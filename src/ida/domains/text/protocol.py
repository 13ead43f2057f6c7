"""The step contract between the amplifier and any overseer H of the text domain (this script,
a language model, a person at the workbench).

A *step* is what H sees, a plain dict::

    {"facts": list[str],             # the instance's sentences
     "question": str,                # the question H is to answer
     "answered": [[str, str], ...],  # every subquestion H asked so far, with its answer
     "last": bool}                   # the last turn: H must answer now

A *move* is what H does: ``{"answer": str}``, or ``{"ask": [str]}`` with one or two
subquestions, each strictly easier (fewer hops) and about an entity the facts name. An
*overseer* is anything with ``moves(steps) -> list[dict | None]`` (batched; None: it made no
valid move) and a ``counts`` Counter, or, for people at the workbench, ``async wait(step)``
(``Waiting``). ``check_move`` is the one judge of a move's validity.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from ida.domains.text.kb import named
from ida.domains.text.questions import parse_question

MAX_TURNS = 4  # moves H makes on one question at most; the last must be an answer
MAX_ASKS = 2
MAX_ANSWER_CHARS = 200

Step = dict[str, Any]
Move = dict[str, Any]


class Overseer(Protocol):
    """H: the next move for each step (None where it made none)."""

    counts: Counter

    def moves(self, steps: list[Step]) -> list[Move | None]: ...


class Waiting(Protocol):
    """H as people: the move at a step, awaited in the engine (``attach``: deliver moves to
    ``engine``) while the other trees go on."""

    counts: Counter

    def attach(self, engine: Any) -> None: ...

    async def wait(self, step: Step) -> Move | None: ...


class Outside(Protocol):
    """A for subquestions from outside the run (a language model behind an endpoint): the
    answer text for each (facts, question)."""

    counts: Counter

    def answers(self, items: list[tuple[list[str], str]]) -> list[str]: ...


def make_step(facts: list[str], question: str, answered: list[list[str]], last: bool) -> Step:
    """A step (see the module's docstring)."""
    return {"facts": facts, "question": question, "answered": answered, "last": last}


def check_move(step: Step, move: Any) -> str | None:
    """None if ``move`` is a valid move at ``step``; else a one-line reason."""
    shape = "a move is {'answer': text} or {'ask': [one or two questions]}"
    if not isinstance(move, dict) or len(move) != 1:
        return shape
    if "answer" in move:
        answer = move["answer"]
        if not isinstance(answer, str) or not answer.strip():
            return "the answer is empty"
        if "\n" in answer.strip() or len(answer) > MAX_ANSWER_CHARS:
            return f"the answer is not one line of at most {MAX_ANSWER_CHARS} characters"
        return None
    asks = move.get("ask")
    if not isinstance(asks, list) or not all(isinstance(q, str) for q in asks):
        return shape
    if not 1 <= len(asks) <= MAX_ASKS:
        return f"ask one or two subquestions, not {len(asks)}"
    if step["last"]:
        return "the last turn must answer, not ask"
    try:
        root = parse_question(step["question"])
    except ValueError as err:
        return f"the step's own question is not of this domain ({err})"
    known = named(tuple(step["facts"]))
    for text in asks:
        try:
            sub = parse_question(text)
        except ValueError as err:
            return str(err)
        if sub.entity.lower() not in known:
            return f"unknown entity {sub.entity!r}: no fact names it"
        if sub.hops >= root.hops:
            return f"not easier: {text!r} has {sub.hops} hops, the question {root.hops}"
    return None
