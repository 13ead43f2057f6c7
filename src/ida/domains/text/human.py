"""H as people at the workbench for the text domain: each step H takes is posted to the
workbench queue, its context the step itself (the sentences, the question, the answers so
far), and its tree waits for the move people type while every other tree goes on. The
people's moves are checked when they are made (``workbench.TextBench.parse_move``) and again by
the amplifier (``protocol.check_move``). Steps are a memo in the database: a restarted trainer
gets the moves people already made from the record and asks nothing twice. Each round's trees
are recorded for the workbench's tree viewer, with who answered each node and the truth.
"""

from __future__ import annotations

from collections import Counter

from ida.core.engine import Engine
from ida.domains.text.protocol import Move, Step
from ida.domains.text.questions import answer_of, parse_question
from ida.overseers.human.desk import Desk
from ida.overseers.human.protocol import Post


class People:
    """The overseer whose steps people take at ``desk``; ``poll``: seconds between looks for
    their moves while trees wait."""

    def __init__(self, desk: Desk, poll: float):
        self.desk, self.poll = desk, poll
        self.counts: Counter = Counter()
        self.who: dict[tuple[int, str], str | None] = {}  # (facts' id, question) -> person

    def attach(self, engine: Engine) -> None:
        """Have ``engine`` deliver people's moves to the trees waiting on them."""
        self.desk.attach(engine, self.poll)

    async def wait(self, step: Step) -> Move | None:
        """The move people make at ``step`` (posted to the queue; shown at its hops - 1)."""
        try:
            level = parse_question(step["question"]).hops - 1
        except ValueError:
            level = 0
        (key,) = self.desk.post([Post(step, level)])
        self.counts["posted"] += 1
        move, who = await self.desk.wait(key)
        if move is not None and "answer" in move:
            self.who[(id(step["facts"]), step["question"])] = who
        return move

    def record(self, round_: int, worlds: list, facts: list[list[str]], roots, trees) -> None:
        """Write round ``round_``'s trees (one per root: (slot, query, text)) for the tree
        viewer: every node with its answer, who gave it and the true answer."""
        slots = [slot for slot, _, _ in roots]

        def row_of(i: int, node) -> dict:
            slot = slots[i]
            return {
                "question": node.question,
                "answer": node.answer if node.answer is not None else "(no answer)",
                "truth": answer_of(worlds[slot], node.question),
                "by": node.by,
                "person": self.who.get((id(facts[slot]), node.question)),
            }

        self.desk.record_trees(round_, zip([facts[s] for s in slots], trees, strict=True), row_of)
        self.who.clear()
