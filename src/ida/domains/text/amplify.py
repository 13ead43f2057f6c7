"""Amplify(H, A) for the text domain, as the core loop's propose / expand / absorb.

``propose`` draws a round: fresh instances told in the training templates and root questions
at the curriculum's levels. ``expand`` (pure) grows one weak-HCH tree per root in the engine:
the root goes to the overseer H, one step at a time (``Call(overseer.moves, [step])``, so an
overseer that is a language model gets batches; people at the workbench, ``wait``, are posted
the step and the tree waits for their move); each subquestion H asks goes to the teacher
A (``Call(answerer, ...)``, batched across all trees) or, above ``depth``, to H again. A move
that ``check_move`` refuses, or none, is an overseer failure: that root gets no target.
``absorb`` counts, updates the curriculum and returns the round as ``Rows``.

``GroundTruth`` is the supervised baseline: the exact solver's answers, counted as labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ida.core.curriculum import Curriculum
from ida.core.engine import Call, Engine, Spawn
from ida.core.loop import split_items
from ida.domains.text.data import Answerer, Rows, fact_rows, question_rows, sample_query
from ida.domains.text.kb import TRAIN, World, sample_world, tell
from ida.domains.text.protocol import (
    MAX_TURNS,
    Move,
    Outside,
    Overseer,
    Step,
    Waiting,
    check_move,
    make_step,
)
from ida.domains.text.questions import Query, render
from ida.domains.text.words import ANSWER_LEN, PAD, vocab

OVERSEER, LOOKUP, MODEL, FAILED = "overseer", "lookup", "model", "failed"


@dataclass
class Node:
    """One question of a tree: who answered it (``by``), how, and the subquestions behind it;
    ``failure`` says why H made no valid move (then ``answer`` is None)."""

    question: str
    by: str = MODEL
    answer: str | None = None
    children: list[Node] = field(default_factory=list)
    failure: str | None = None

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Round:
    """A round's work: its worlds, their sentences and tokens, and the roots (instance slot,
    structure, text) at curriculum ``levels``."""

    worlds: list[World]
    facts: list[list[str]]
    fact_tokens: np.ndarray
    roots: list[tuple[int, Query, str]]
    levels: np.ndarray


@dataclass
class Expansion:
    """A round's results: a target per root (None: none), the teacher's own answers as tokens,
    the trees (IDA only) and the counts."""

    targets: list[str | None]
    own: np.ndarray
    counts: Counter
    trees: list[Node] = field(default_factory=list)


class TextAmplifier:
    """Amplify(H, A): ``overseer`` is H (anything with ``moves`` and ``counts``)."""

    def __init__(
        self,
        overseer: Overseer | Waiting,
        curriculum: Curriculum,
        people: int,
        instances: int,
        per_instance: int,
        device: torch.device | str = "cpu",
        depth: int = 1,
        use_model: bool = True,
        max_batch: int = 8192,
        outside: Outside | None = None,
    ):
        self.overseer, self.curriculum, self.people = overseer, curriculum, people
        self.instances, self.per_instance, self.device = instances, per_instance, device
        self.depth, self.use_model, self.max_batch = depth, use_model, max_batch
        self.outside = outside  # A for subquestions, where it is not the net (an endpoint)
        self.counts: Counter = Counter()
        if hasattr(overseer, "wait"):  # people: their steps stay in the workbench's database
            self.split = None

    def propose(self, rng: np.random.Generator) -> Round:
        worlds = [sample_world(rng, self.people) for _ in range(self.instances)]
        facts = [tell(world, rng, TRAIN) for world in worlds]
        levels = self.curriculum.sample(rng, self.instances * self.per_instance)
        roots = []
        for i, level in enumerate(levels):
            slot = i // self.per_instance
            query = sample_query(worlds[slot], int(level) + 1, rng)
            roots.append((slot, query, render(query, TRAIN, rng)))
        tokens = np.stack([fact_rows(f, self.people) for f in facts])
        return Round(worlds, facts, tokens, roots, levels)

    def split(self, work: Round, parts: int) -> list[Round]:
        """``work`` as at most ``parts`` rounds of whole instances, in order (so that workers
        can expand them: ``merge`` of their expansions is ``expand`` of the whole)."""
        per, found = self.per_instance, []
        for part in split_items(range(len(work.worlds)), parts):
            a, b = part[0], part[-1] + 1
            rows = slice(a * per, b * per)
            roots = [(s - a, q, t) for s, q, t in work.roots[rows]]
            found.append(
                Round(work.worlds[a:b], work.facts[a:b], work.fact_tokens[a:b], roots,
                      work.levels[rows])
            )  # fmt: skip
        return found

    def merge(self, work: Round, expanded: list[Expansion]) -> Expansion:
        """The expansions of ``split``'s parts as one."""
        counts: Counter = Counter()
        for part in expanded:
            counts.update(part.counts)
        return Expansion(
            [t for part in expanded for t in part.targets],
            np.concatenate([part.own for part in expanded]),
            counts,
            [tree for part in expanded for tree in part.trees],
        )

    def expand(self, teacher: nn.Module, work: Round) -> Expansion:
        """Targets for the round's roots (pure: reads ``teacher`` and ``work`` only)."""
        teacher.eval()
        answerer = Answerer(teacher, torch.from_numpy(work.fact_tokens).to(self.device))
        counts: Counter = Counter()
        before = {who: Counter(who.counts) for who in (self.overseer, self.outside) if who}
        if self.outside is None:
            targets, trees = self.targets(work, answerer, counts)
        else:
            targets, trees = self.targets(work, self._outside(work), counts)
        for who, prefix in ((self.overseer, "h_"), (self.outside, "a_")):
            if who is not None:  # what an overseer or endpoint counted itself: tokens, seconds
                spent = Counter(who.counts)
                spent.subtract(before[who])
                counts.update({prefix + k: v for k, v in spent.items() if v})
        own = answerer.rows([(slot, text) for slot, _, text in work.roots])
        return Expansion(targets, own, counts, trees)

    def _outside(self, work: Round):
        """The outside A as the engine calls it: (slot, question) -> answer text."""
        outside = self.outside

        def answer(items: list[tuple[int, str]]) -> list[str]:
            return outside.answers([(work.facts[slot], question) for slot, question in items])

        return answer

    def targets(
        self, work: Round, answerer: Answerer, counts: Counter
    ) -> tuple[list[str | None], list[Node]]:
        """One tree per root; its answer is the target."""
        grower = Grower(
            self.overseer, work.facts, answerer if self.use_model else None, self.depth, counts
        )
        trees = self.engine().run([grower.grow(s, text, 0) for s, _, text in work.roots])
        return [tree.answer for tree in trees], trees

    def explain(self, facts: list[str], question: str, answerer: Answerer) -> Node:
        """The one tree for ``question`` about ``facts`` (slot 0 of ``answerer``): what
        ``ida show`` draws."""
        grower = Grower(
            self.overseer, [facts], answerer if self.use_model else None, self.depth, Counter()
        )
        return self.engine().run([grower.grow(0, question, 0)])[0]

    def engine(self) -> Engine:
        """An engine for a round's trees; H as people (``attach``) delivers moves to it."""
        engine = Engine(self.max_batch)
        attach = getattr(self.overseer, "attach", None)
        if attach is not None:
            attach(engine)
        return engine

    def absorb(self, work: Round, done: Expansion, rng: np.random.Generator) -> Rows:
        """Counts, the curriculum's update (the teacher's answer against the target, where
        there is one), and the round as rows to distil."""
        self.counts.update(done.counts)
        self.counts["rounds"] += 1
        record = getattr(self.overseer, "record", None)
        if record is not None and done.trees:  # people: the trees for the workbench's viewer
            record(self.counts["rounds"], work.worlds, work.facts, work.roots, done.trees)
        v = vocab()
        targets = np.full((len(work.roots), ANSWER_LEN), PAD, dtype=np.int64)
        for i, text in enumerate(done.targets):
            row = None if text is None else v.answer_row(text)
            if row is not None:
                targets[i] = row
            elif text is not None:
                self.counts["unencodable_targets"] += 1
        has = targets[:, 0] != PAD
        agree = (done.own == targets).all(1)
        self.curriculum.update(work.levels[has], agree[has])
        shape = (self.instances, self.per_instance)
        questions = question_rows([text for _, _, text in work.roots])
        return Rows(
            facts=work.fact_tokens,
            questions=questions.reshape(*shape, -1),
            targets=targets.reshape(*shape, -1),
            levels=work.levels.reshape(shape),
        )


class GroundTruth(TextAmplifier):
    """The supervised baseline: targets from the exact solver; counts ``labels``."""

    def targets(self, work, answerer, counts):
        counts["labels"] += len(work.roots)
        return [work.worlds[s].follow(q.entity, q.relations) for s, q, _ in work.roots], []


class Grower:
    """Grows weak-HCH trees over ``facts`` (one list of sentences per instance slot)."""

    def __init__(
        self,
        overseer: Overseer | Waiting,
        facts: list[list[str]],
        answerer: Answerer | None,
        depth: int,
        counts: Counter,
    ):
        self.overseer, self.facts, self.answerer = overseer, facts, answerer
        self.depth, self.counts = depth, counts

    async def grow(self, slot: int, question: str, depth: int) -> Node:
        """H's moves on ``question`` until it answers (or fails)."""
        node = Node(question, OVERSEER)
        answered: list[list[str]] = []
        for turn in range(MAX_TURNS):
            step = make_step(self.facts[slot], question, answered, turn == MAX_TURNS - 1)
            move = await self.move(step)
            self.counts["overseer_calls"] += 1
            reason = "no valid move" if move is None else check_move(step, move)
            if reason is not None:
                self.counts["overseer_failures"] += 1
                node.by, node.failure = FAILED, reason
                return node
            if "answer" in move:
                node.answer = move["answer"].strip()
                node.by = OVERSEER if node.children else LOOKUP
                return node
            kids = await self.ask(slot, move["ask"], depth + 1)
            node.children.extend(kids)
            answered = answered + [[kid.question, kid.answer or ""] for kid in kids]
        raise AssertionError("check_move lets no last turn ask")  # pragma: no cover

    async def move(self, step: Step) -> Move | None:
        """H's move at ``step``: batched with the other trees' steps, or where H is people
        (``wait``), once they have made it, the other trees going on meanwhile."""
        wait = getattr(self.overseer, "wait", None)
        if wait is not None:
            return await wait(step)
        (move,) = await Call(self.overseer.moves, [step])
        return move

    async def ask(self, slot: int, questions: list[str], depth: int) -> list[Node]:
        """Subquestions to A, or (without a model, or above ``depth``) to H again."""
        if self.answerer is None or depth < self.depth:
            return await Spawn([self.grow(slot, q, depth) for q in questions])
        answers = await Call(self.answerer, [(slot, q) for q in questions])
        self.counts["model_calls"] += len(questions)
        return [Node(q, MODEL, a) for q, a in zip(questions, answers, strict=True)]


def tree_counts(trees: list[Node]) -> dict[str, Any]:
    """Nodes of ``trees`` by who answered them."""
    return dict(Counter(node.by for tree in trees for node in tree.walk()))
