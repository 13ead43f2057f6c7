"""Strict parsing of a language model's reply into a weak-HCH move.

A reply is valid only if it is one line (surrounding whitespace aside) of the form
``ANSWER: <text>``, ``ASK: <q>`` or ``ASK: <q1> | <q2>`` (the keyword in any case), with
nothing else: no second move, no JSON, no chat-template tokens or role markers, no control
characters, at most ``max_chars`` characters. An ask must not come on the last turn, have more
than two subquestions, repeat one, or repeat the question or a subquestion already answered;
then the domain's ``check_move`` has the last word. A rejection is an ``Invalid``: a short
``kind`` to count and a one-line ``detail`` to show the model on its retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ida.overseers.llm.prompts import Move, Step, flat

CheckMove = Callable[[Step, Move], "str | None"]  # None if the move is valid, else why not

MAX_CHARS = 300
_MOVE = re.compile(r"(ANSWER|ASK)[ \t]*:[ \t]*(.*)", re.IGNORECASE | re.DOTALL)
_KEYWORD = re.compile(r"\b(ANSWER|ASK)[ \t]*:", re.IGNORECASE)
_TEMPLATE = re.compile(r"<\||\|>|</?s>|\[/?INST\]|<<SYS>>|<\|?im_(start|end)", re.IGNORECASE)
_ROLE = re.compile(r"\b(system|user|assistant)[ \t]*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True)
class Invalid:
    """Why a reply is not a move: ``kind`` (one of a few, counted) and a one-line ``detail``."""

    kind: str
    detail: str


def _line(text: str | None, max_chars: int) -> tuple[str, str] | Invalid:
    """The keyword (upper case) and body of a one-line, one-move reply."""
    if text is None or not text.strip():
        return Invalid("empty", "empty reply")
    if len(text) > max_chars:
        return Invalid("too long", f"reply of {len(text)} characters, at most {max_chars}")
    text = text.strip()
    if "\n" in text or "\r" in text:
        return Invalid("several lines", "reply has more than one line")
    if _CONTROL.search(text):
        return Invalid("control characters", "reply has control characters")
    if text[0] in "{[":
        return Invalid("json", "reply is JSON, not ANSWER: or ASK:")
    if _TEMPLATE.search(text) or _ROLE.search(text):
        return Invalid("role marker", "reply has chat-template tokens or role markers")
    match = _MOVE.fullmatch(text)
    if match is None:
        return Invalid("no move", "reply does not start with ANSWER: or ASK:")
    keyword, body = match.group(1).upper(), match.group(2).strip()
    if _KEYWORD.search(body):
        return Invalid("several moves", "reply has more than one ANSWER: or ASK:")
    if body[:1] in ("{", "["):
        return Invalid("json", "reply is JSON, not plain text")
    return keyword, body


def _answer(body: str) -> str | Invalid:
    if not body:
        return Invalid("empty answer", "ANSWER: has no text")
    if "|" in body:
        return Invalid("several answers", "an answer has no |")
    return body


def parse_answer(text: str | None, max_chars: int = MAX_CHARS) -> str | Invalid:
    """The answer in an ``ANSWER: <text>`` reply."""
    line = _line(text, max_chars)
    if isinstance(line, Invalid):
        return line
    keyword, body = line
    if keyword != "ANSWER":
        return Invalid("not an answer", "reply is not ANSWER:")
    return _answer(body)


def parse_move(text: str | None, last: bool = False, max_chars: int = MAX_CHARS) -> Move | Invalid:
    """The move in a reply, by its form alone (see the module's docstring)."""
    line = _line(text, max_chars)
    if isinstance(line, Invalid):
        return line
    keyword, body = line
    if keyword == "ANSWER":
        answer = _answer(body)
        return answer if isinstance(answer, Invalid) else {"answer": answer}
    if last:
        return Invalid("ask on last turn", "this is the last turn: only ANSWER: will do")
    asks = [part.strip() for part in body.split("|")]
    if len(asks) > 2:
        return Invalid("too many subquestions", f"{len(asks)} subquestions, at most 2")
    if not all(asks):
        return Invalid("empty subquestion", "a subquestion is empty")
    if len(asks) == 2 and _same(asks[0], asks[1]):
        return Invalid("repeated subquestion", "the same subquestion twice")
    return {"ask": asks}


def _same(a: str, b: str) -> bool:
    return flat(a).casefold() == flat(b).casefold()


def check_reply(
    step: Step, text: str | None, check_move: CheckMove | None = None, max_chars: int = MAX_CHARS
) -> Move | Invalid:
    """The move in a reply to ``step`` if it is valid there, else why not."""
    move = parse_move(text, bool(step.get("last")), max_chars)
    if isinstance(move, Invalid):
        return move
    if "ask" in move:
        seen = [step["question"], *(q for q, _ in step.get("answered") or [])]
        for ask in move["ask"]:
            if any(_same(ask, q) for q in seen):
                return Invalid("repeated subquestion", f"already asked or answered: {flat(ask)}")
    if check_move is not None:
        try:
            reason = check_move(step, move)
        except Exception as error:  # a reply that breaks the checker is still just a bad reply
            return Invalid("checker error", flat(f"check_move raised {type(error).__name__}"))
        if reason is not None:
            return Invalid("domain", flat(reason)[:200])
    return move
