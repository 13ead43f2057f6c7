"""A toy knowledge base with two relations, its scripted H, checker and examples: a stand-in for
a natural-language domain, so these tests need none."""

import re
from types import SimpleNamespace

import pytest

FACTS = [
    "The mother of Alice is Beth.",
    "The boss of Beth is Carl.",
    "The mother of Carl is Dana.",
    "The boss of Alice is Erin.",
]
_QUESTION = re.compile(r"Who is (the (?:mother|boss) of )+(\w+)\?")


def hops(question: str) -> int | None:
    """How many relations the question chains, or None if it is not a toy question."""
    if _QUESTION.fullmatch(question) is None:
        return None
    return question.count(" of ")


def lookup(relation: str, person: str) -> str | None:
    for fact in FACTS:
        if fact == f"The {relation} of {person} is {fact.split()[-1]}":
            return fact.split()[-1][:-1]
    return None


def check_move(step: dict, move: dict) -> str | None:
    """None if valid: every subquestion parses and has fewer hops than the question."""
    if "answer" in move:
        return None
    limit = hops(step["question"])
    for ask in move["ask"]:
        n = hops(ask)
        if n is None:
            return f"cannot parse subquestion: {ask}"
        if limit is not None and n >= limit:
            return f"not easier than the question: {ask}"
    return None


def scripted(step: dict) -> dict:
    """The toy's H: peel the innermost relation off, one hop per turn."""
    question = step["question"]
    words = question[:-1].split()  # Who is the r1 of the r2 of X
    relations = [w for w, prev in zip(words[1:], words[:-1], strict=True) if prev == "the"]
    person = words[-1]
    if step["answered"]:
        person = step["answered"][-1][1]
        relations = relations[: len(relations) - len(step["answered"])]
    if len(relations) == 1 or step.get("last"):
        return {"answer": lookup(relations[-1], person) or "unknown"}
    return {"ask": [f"Who is the {relations[-1]} of {person}?"]}


def step(question: str, answered=(), last=False) -> dict:
    return {
        "facts": FACTS,
        "question": question,
        "answered": [list(a) for a in answered],
        "last": last,
    }


@pytest.fixture
def toy():
    examples = [
        (step("Who is the mother of Alice?"), {"answer": "Beth"}),
        (step("Who is the boss of the mother of Alice?"), {"ask": ["Who is the mother of Alice?"]}),
        (
            step(
                "Who is the boss of the mother of Alice?", [("Who is the mother of Alice?", "Beth")]
            ),
            {"answer": "Carl"},
        ),
    ]
    return SimpleNamespace(
        facts=FACTS,
        step=step,
        check_move=check_move,
        scripted=scripted,
        examples=examples,
        hops=hops,
    )
