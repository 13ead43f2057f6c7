"""The scripted H: a careful reader who answers a one-hop question from the one sentence that
states it, and splits a longer chain into its first hop and the rest.

On "Which country is the city where the employer of Ada Brook is based in?" it asks "Who
employs Ada Brook?", then the rest about that answer ("What is the country of the headquarters
of Lumen Ltd?"), then answers with the rest's answer. A subanswer that names no entity of the
right type in the facts makes it give up (None): it will not build on nonsense.
"""

from __future__ import annotations

import zlib
from collections import Counter

from ida.domains.text.kb import RELATIONS, entity, named, read_facts
from ida.domains.text.protocol import Move, Step
from ida.domains.text.questions import Query, parse_question, phrase_seeded, type_of


class ScriptedH:
    """H as a script; its subquestions use the training templates, chosen by a hash of the
    step (the same step always gets the same words)."""

    def __init__(self):
        self.counts: Counter = Counter()

    def moves(self, steps: list[Step]) -> list[Move | None]:
        found = [self.move(step) for step in steps]
        for move in found:
            self.counts["gave_up" if move is None else next(iter(move))] += 1
        return found

    def move(self, step: Step) -> Move | None:
        try:
            query = parse_question(step["question"])
        except ValueError:
            return None
        facts = tuple(step["facts"])
        answered = step["answered"]
        if query.hops == 1:
            found = read_facts(facts).get((query.entity.lower(), query.relations[0]))
            return None if found is None else {"answer": found}
        first = Query(query.entity, query.relations[:1])
        if not answered:
            return self.ask(first, step, 0)
        middle = _known(answered[0][1], type_of(first), facts)
        if middle is None:
            return None
        if len(answered) == 1:
            return self.ask(Query(middle, query.relations[1:]), step, 1)
        final = _known(answered[-1][1], RELATIONS[query.relations[-1]].object, facts)
        return None if final is None else {"answer": final}

    def ask(self, sub: Query, step: Step, turn: int) -> Move | None:
        if step["last"]:
            return None
        return {"ask": [phrase_seeded(sub, f"{step['question']}|{turn}")]}


def _known(answer: str, kind: str, facts: tuple[str, ...]) -> str | None:
    """``answer`` spelled as in the pools if it names an entity of type ``kind`` that
    ``facts`` mention; else None."""
    found = entity(answer) if isinstance(answer, str) else None
    if found is None or found[1] != kind or found[0].lower() not in named(facts):
        return None
    return found[0]


class Noisy:
    """``inner`` H, except that each answer it gives is, with probability ``rate``, another
    entity the facts name: error injection at a known rate. Which answers are wrong is drawn
    from a hash of the step and ``seed``, so the same step is always wrong the same way (and
    expanding a round anywhere gives the same trees)."""

    def __init__(self, inner: ScriptedH, rate: float, seed: int = 0):
        self.inner, self.rate, self.seed = inner, rate, seed
        self.counts = inner.counts

    def moves(self, steps: list[Step]) -> list[Move | None]:
        return [
            self.corrupt(step, move)
            for step, move in zip(steps, self.inner.moves(steps), strict=True)
        ]

    def corrupt(self, step: Step, move: Move | None) -> Move | None:
        if move is None or "answer" not in move:
            return move
        key = f"{self.seed}|{step['question']}|{step['answered']}".encode()
        draw = zlib.crc32(key)
        if draw >= self.rate * 2**32:
            return move
        table = read_facts(tuple(step["facts"]))
        others = sorted({o for o in table.values()} - {move["answer"]})
        if not others:
            return move
        self.counts["corrupted"] += 1
        return {"answer": others[zlib.crc32(key, 1) % len(others)]}
