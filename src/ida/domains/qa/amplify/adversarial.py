"""Adversarial amplification: H is consulted only where the model is likely wrong.

Weak HCH with the model in the loop (the seed's amplification procedure). For a training
question, H fans out. The model answers every subquestion, and a selector scores each answer
(the adversary's Adv(SQ, A) by default, in [-1, 0], lower = more suspect). Some subquestions are
sent down to H, which recurses on them by the same procedure; the model's answers stand for the
rest. H fans in the answers, and the procedure repeats until H answers. Every node H handles is
a training target (question, H's answer).

Which subquestions go to H:

* one per fan-out/fan-in (the seed's rule): i = argmax_i(-S_i / T + g_i), g_i ~ Gumbel(0, 1),
  which picks i with the Boltzmann probabilities softmax(-S / T). T is ``temperature``: constant,
  or annealed linearly to ``temperature_end`` over ``anneal_rounds`` amplified rounds. A lone
  subquestion always goes to H.
* ``per_subquestion`` (the variant from the seed's comments): each independently with probability
  sigmoid((tau - S_i) / alpha), so zero, one or two go to H; alpha anneals like T.

Scores come from the adversary (``select="adversary"``), the model's own confidence
(``"uncertainty"``: minus the entropy of its answer distribution), or none (``"random"``: a
uniform choice, which spends the same overseer budget as the Gumbel rule); ``"all"`` sends
every subquestion to H (H at every node). A root stops consulting H after ``max_consults`` nodes.
An imperfect H (``overseers.demonstrators``: biased, noisy) corrupts the answers of the nodes it
handles.
With ``screen_roots``, training questions themselves go to H only with the per-subquestion
probability (the model's answer stands where the adversary trusts it; no target, no H call).

With a learned overseer H' (``learned_overseer``, trained on the steps H takes here), at the
question levels where H' is trusted (``ida.domains.qa.overseers.learned_overseer``):

* ``confidence``, the seed's "primed" iteration: a question chosen for H whose answer scores at
  least ``confidence`` is answered by the amplified model instead, Amplify(H', A) (H' fans out
  and in, the model answers the subquestions); no call to H, and the node is still a target.
* ``own_tree``, the seed's distillation step: that many extra questions per instance a round,
  answered by the model's own tree, Amplify(H', A); more targets, no more calls to H.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ida.core.engine import BatchFn, Call, Engine, Spawn
from ida.domains.qa.adversary import Adversary, AdversaryScorer, UncertaintyScorer
from ida.domains.qa.amplify.base import QuestionAmplifier, Roots, Round, tree_counts
from ida.domains.qa.amplify.decompose import Grower
from ida.domains.qa.amplify.selection import Selection
from ida.domains.qa.experience import UNJUDGED, Experience
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer
from ida.domains.qa.tasks.base import (
    PAD,
    Instance,
    Question,
    Step,
    Task,
    Transcript,
    speaks_weak_hch,
)
from ida.domains.qa.trace import LEARNED, LOOKUP, MODEL, OVERSEER, Node


class _Record:
    """The nodes H handled under one root, and how many more it may handle."""

    __slots__ = ("nodes", "left")

    def __init__(self, budget: int):
        self.nodes: list[Node] = []
        self.left = budget - 1  # the root itself


class _Trees:
    """One round's adversarial trees, run as coroutines in the engine."""

    def __init__(
        self,
        task: Task,
        insts: list[Instance],
        answer: BatchFn,
        score: BatchFn | None,
        selection: Selection,
        rng: np.random.Generator,
        corrupt: Callable[[Instance, Question, int], int] | None,
        stand_in: Grower | None = None,
        confidence: float | None = None,
        trusted_levels: np.ndarray | None = None,
        transcript: Transcript | None = None,
    ):
        self.task, self.insts, self.answer, self.score = task, insts, answer, score
        self.selection, self.rng, self.corrupt = selection, rng, corrupt  # corrupt: H's errors
        self.stand_in, self.confidence = stand_in, confidence  # Amplify(H', A) and when it may
        self.trusted_levels = trusted_levels  # the question levels H' is trusted at
        self.transcript = transcript  # H's steps, for H' to learn from

    @property
    def primes(self) -> bool:
        """Whether Amplify(H', A) may stand in for H (it is ready, and a threshold is set)."""
        return self.stand_in is not None and self.confidence is not None

    def trusted(self, slot: int, question: Question, score: float | None) -> bool:
        """Whether Amplify(H', A) stands in for H on ``question``, whose answer scored ``score``:
        the score passes ``confidence`` and H' is trusted at the question's level."""
        if not self.primes or score is None or score < self.confidence:
            return False
        return bool(self.trusted_levels[self.task.level_of(self.insts[slot], question)])

    async def primed(self, slot: int, question: Question, depth: int, record: _Record) -> Node:
        """Amplify(H', A) answers ``question`` in H's place (no call to H); it is a target."""
        node = await self.stand_in.grow(slot, question, depth)
        record.nodes.append(node)
        return node

    def step(self, inst: Instance, question: Question, answered: tuple) -> Step:
        """H's weak HCH step, its answers as an imperfect H gives them (recorded, if a
        transcript is kept)."""
        step = self.task.next_step(inst, question, answered)
        if self.corrupt is not None and not isinstance(step, tuple):
            step = self.corrupt(inst, question, int(step))
        if self.transcript is not None:
            self.transcript.append((inst, question, answered, step))
        return step

    async def consult(self, slot: int, question: Question, depth: int, record: _Record) -> Node:
        """H handles ``question``; every node H handles is appended to ``record.nodes``."""
        inst = self.insts[slot]
        node = Node(question, by=OVERSEER, depth=depth)
        record.nodes.append(node)
        step = self.step(inst, question, ())
        while isinstance(step, tuple):
            guesses = await Call(self.answer, [(slot, q) for q in step])
            scores = None
            if self.score is not None:
                items = [(slot, q, a) for q, a in zip(step, guesses, strict=True)]
                scores = await Call(self.score, items)
            to_h = self.selection.choose(scores, len(step), self.rng)
            chosen = [i for i, h in enumerate(to_h) if h]
            primed = [i for i in chosen if self.trusted(slot, step[i], scores and scores[i])]
            picked = [i for i in chosen if i not in primed][: record.left]
            record.left -= len(picked)
            kids = [Node(q, a, MODEL, depth + 1) for q, a in zip(step, guesses, strict=True)]
            subtrees = [self.consult(slot, step[i], depth + 1, record) for i in picked]
            subtrees += [self.primed(slot, step[i], depth + 1, record) for i in primed]
            if subtrees:
                for i, kid in zip(picked + primed, await Spawn(subtrees), strict=True):
                    kids[i] = kid
            for i, kid in enumerate(kids):
                kid.guess, kid.score = guesses[i], None if scores is None else scores[i]
            node.children.extend(kids)
            step = self.step(inst, question, tuple((k.question, k.answer) for k in kids))
        node.answer = int(step)
        if not node.children:
            node.by = LOOKUP
        return node


class AdversarialAmplifier(QuestionAmplifier):
    """Adversarial amplification: every node H handles becomes a target.

    A round's experience packs each instance's consulted nodes into rows of ``per_instance``
    question slots (an instance takes as many rows as it needs; the last is padded)."""

    def __init__(
        self,
        *args,
        engine: Engine,
        selection: Selection,
        adversary: Adversary | None,
        max_consults: int,
        anneal_rounds: int = 0,
        temperature_end: float | None = None,
        alpha_end: float | None = None,
        corrupt: Callable[[Instance, Question, int], int] | None = None,
        screen_roots: bool = False,
        learned_overseer: LearnedOverseer | None = None,
        confidence: float | None = None,
        own_tree: int = 0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if not speaks_weak_hch(self.task):
            raise ValueError(f"{self.task.name}: adversarial amplification needs weak HCH")
        if selection.select == "adversary" and adversary is None:
            raise ValueError("select='adversary' needs an adversary")
        self.engine, self.selection = engine, selection
        self.adversary, self.max_consults = adversary, max_consults
        self.anneal_rounds, self.corrupt = anneal_rounds, corrupt
        if screen_roots and not selection.per_subquestion:
            raise ValueError("screen_roots needs the per-subquestion rule")
        self.screen_roots = screen_roots
        if (confidence is not None or own_tree) and learned_overseer is None:
            raise ValueError("confidence and own_tree need H' (a LearnedOverseer)")
        if confidence is not None and not selection.scored:
            raise ValueError("confidence needs scores: select 'adversary' or 'uncertainty'")
        self.learned_overseer, self.confidence = learned_overseer, confidence
        self.own_tree = own_tree
        self.schedule = {
            name: (getattr(selection, name), end if end is not None else getattr(selection, name))
            for name, end in (("temperature", temperature_end), ("alpha", alpha_end))
        }

    def annealed(self) -> Selection:
        """The selection for the next round: T and alpha linear from their start to their end
        values over ``anneal_rounds`` rounds."""
        done = min(1.0, self.counts["rounds"] / self.anneal_rounds) if self.anneal_rounds else 0.0
        values = {
            name: start + (end - start) * done for name, (start, end) in self.schedule.items()
        }
        return dataclasses.replace(self.selection, **values)

    def scorer(self, answerer: BatchedAnswerer, facts: torch.Tensor) -> BatchFn | None:
        if self.selection.select == "adversary":
            return AdversaryScorer(self.adversary, facts)
        if self.selection.select == "uncertainty":
            return UncertaintyScorer(answerer)
        return None

    def run(
        self,
        insts: list[Instance],
        roots: Roots,
        answer: BatchFn,
        score: BatchFn | None,
        rng: np.random.Generator,
        stand_in: Grower | None = None,
        transcript: Transcript | None = None,
        selection: Selection | None = None,
        trusted: np.ndarray | None = None,
    ) -> tuple[list[Node], list[list[Node]]]:
        """The trees for ``roots`` and, per root, the nodes H handled (root first). ``answer``
        is the model as a batch function, ``score`` the selector's scores (None: unscored),
        ``stand_in`` Amplify(H', A) (where the score passes ``confidence``, it answers in H's
        place, at the levels H' is ``trusted`` at), and ``transcript`` gets H's steps.
        ``selection`` is the round's (default: as annealed for the next round)."""
        selection = selection or self.annealed()
        if trusted is None and self.learned_overseer is not None:
            trusted = self.learned_overseer.trusted
        trees = _Trees(
            self.task, insts, answer, score, selection, rng, self.corrupt,
            stand_in, self.confidence, trusted, transcript,
        )  # fmt: skip
        records = [_Record(self.max_consults) for _ in roots]
        to_h, scores = [True] * len(roots), [None] * len(roots)
        if self.screen_roots or trees.primes:  # the roots' own scores matter
            guesses = answer(roots)
            scores = score([(slot, q, a) for (slot, q), a in zip(roots, guesses, strict=True)])
        if self.screen_roots:  # roots too go to H only with the per-subquestion probability
            to_h = selection.choose(scores, len(roots), rng)
        grow = [
            (trees.primed if trees.trusted(slot, q, sc) else trees.consult)(slot, q, 0, rec)
            for (slot, q), rec, h, sc in zip(roots, records, to_h, scores, strict=True)
            if h
        ]
        done = iter(self.engine.run(grow))
        roots_done = [
            next(done) if h else Node(q, guesses[i], MODEL, 0)
            for i, ((_, q), h) in enumerate(zip(roots, to_h, strict=True))
        ]
        return roots_done, [rec.nodes for rec in records]

    def explain(self, inst, question, answerer, rng):
        """H consulted where the selector doubts the model, with the next round's selection."""
        scorer = self.scorer(answerer, answerer.memory.facts)
        return self.run([inst], [(0, question)], answerer, scorer, rng)[0][0]

    def propose(self, rng: np.random.Generator) -> Round:
        """The round's roots, the annealed selection, H''s trust, the own-tree questions (at
        curriculum levels where H' is trusted) and the seed of the trees' choices."""
        insts, levels, roots = self.sample_round(rng)
        h_prime = self.learned_overseer
        trusted = None if h_prime is None else h_prime.trusted.copy()
        own_roots: Roots = []
        if trusted is not None and trusted.any() and self.own_tree:
            own_levels = self.curriculum.sample(rng, len(insts) * self.own_tree)
            own_roots = [
                (
                    i // self.own_tree,
                    self.task.sample_question(rng, insts[i // self.own_tree], int(lv)),
                )
                for i, lv in enumerate(own_levels)
                if trusted[lv]
            ]
        extra = dict(
            selection=self.annealed(),
            trusted=trusted,
            own_roots=own_roots,
            seed=int(rng.integers(2**63)),
        )
        return Round(insts, levels, roots, np.ones(len(roots), dtype=bool), extra)

    def expand(self, teacher: nn.Module, work: Round) -> dict[str, Any]:
        """Per instance the nodes H handled (and H''s own trees), H's transcript, each root's
        tree and the teacher's own answer to it, and the cost."""
        insts, extra, rng = work.insts, work.extra, np.random.default_rng(work.extra["seed"])
        facts = work.facts(self.device)
        answerer = BatchedAnswerer(teacher, facts)
        h_prime, stand_in = self.learned_overseer, None
        transcript = None if h_prime is None else []
        if extra["trusted"] is not None and extra["trusted"].any():  # H' may stand in for H
            stand_in = Grower(h_prime.overseer(insts), insts, answerer, 1, LEARNED)
        trees, records = self.run(
            insts, work.roots, answerer, self.scorer(answerer, facts), rng, stand_in,
            transcript, extra["selection"], extra["trusted"],
        )  # fmt: skip
        consulted: list[list[Node]] = [[] for _ in insts]
        for (slot, _), record in zip(work.roots, records, strict=True):
            consulted[slot].extend(record)
        counts = tree_counts(trees)
        if extra["own_roots"]:  # distillation on the model's own tree: no call to H
            own = self.engine.run([stand_in.grow(slot, q, 0) for slot, q in extra["own_roots"]])
            counts += tree_counts(own)
            for (slot, _), tree in zip(extra["own_roots"], own, strict=True):
                consulted[slot].append(tree)
        return dict(
            consulted=consulted,
            judged=[bool(record) for record in records],  # roots H answered
            answers=[tree.answer for tree in trees],
            own=answerer(work.roots),
            transcript=transcript,
            counts=counts,
        )

    def absorb(self, work: Round, done: dict[str, Any], rng: np.random.Generator) -> Experience:
        task, width, insts = self.task, self.per_instance, work.insts
        self.counts.update(done["counts"])
        if self.learned_overseer is not None:
            self.learned_overseer.learn(done["transcript"], rng)
        facts, questions, targets, node_levels = [], [], [], []
        for slot, nodes in enumerate(done["consulted"]):
            for start in range(0, len(nodes), width):  # rows of ``width`` slots, last one padded
                chunk = nodes[start : start + width]
                pad = width - len(chunk)
                facts.append(insts[slot].facts)
                questions.append([n.question for n in chunk] + [(PAD,) * task.question_len] * pad)
                targets.append([n.answer for n in chunk] + [UNJUDGED] * pad)
                node_levels.append(
                    [task.level_of(insts[slot], n.question) for n in chunk] + [0] * pad
                )
        if not facts:  # H judged no question this round (screened out): one empty row
            facts.append(insts[0].facts)
            questions.append([(PAD,) * task.question_len] * width)
            targets.append([UNJUDGED] * width)
            node_levels.append([0] * width)
        judged = np.asarray(done["judged"])
        if judged.any():
            agree = np.asarray(done["own"]) == np.asarray(done["answers"])
            self.curriculum.update(work.levels[judged], agree[judged])
        self.counts["rounds"] += 1
        return Experience(
            facts=np.stack(facts),
            questions=np.asarray(questions, dtype=np.int64),
            targets=np.asarray(targets, dtype=np.int64),
            levels=np.asarray(node_levels, dtype=np.int64),
        )
