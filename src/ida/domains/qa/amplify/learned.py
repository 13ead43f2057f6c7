"""Amplify(H', A): a learned imitation of H decomposes questions; H is asked on a budget.

The scheme of Christiano et al. (2018), in weak HCH. A training question goes either to H,
which decomposes it (one level: the model A answers the subquestions) and whose every step is
recorded, or to H', a ``FanModel`` trained on those records, which decomposes it the same way
at no cost in H's time. H' is validated on held-out H steps, and it replaces H once accurate:

* at a question level where H''s held-out step accuracy is below ``trust``, H decomposes every
  question;
* at a level where it has reached it, H decomposes a ``min_share`` of them (fresh transcripts,
  to keep H' learning and its validation honest) and H' the rest.

So H's share falls, and H''s grows, as H''s validation loss falls, level by level as the
curriculum reaches them. On top of that H has an explicit budget: ``human_budget`` calls in
all, never exceeded (each question H decomposes costs one call), paced over the run's
``rounds``: a round may spend at most twice its even share of what is left, 2 x left / rounds
left. Questions that neither H (out of budget) nor a trusted H' decomposes get no target; H'
keeps training on the steps it has (``LearnedOverseer.learn``, every round). Every call to
H is counted (``overseer_calls``), and so is every question H' decomposes (``learned_calls``).

H is the task's exact H, or people at the workbench (``desk``: ``overseers.human``), who see
the model's answer to each question and, with an ``adversary``, how suspect it is; their
trees are recorded for the workbench's tree viewer. H' may start from ``transcripts``, the
path of H's steps recorded before (a workbench export), read and trained on for
``transcript_steps`` steps before the first round of a fresh run.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ida.core.engine import Engine
from ida.domains.qa.adversary import Adversary, AdversaryScorer
from ida.domains.qa.amplify.base import Round, tree_counts
from ida.domains.qa.amplify.decompose import Decomposition, DecompositionAmplifier
from ida.domains.qa.overseers.human import HumanOverseer, TaskDesk, read_transcript
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer, Transcribing
from ida.domains.qa.trace import LEARNED, OVERSEER, overseer_calls


class LearnedOverseerAmplifier(DecompositionAmplifier):
    """Amplify(H, A) on a budgeted share of the questions, Amplify(H', A) once H' is trusted."""

    split = None  # its expand asks H', trained here, and people at the desk: it stays here

    def __init__(
        self,
        *args,
        learned_overseer: LearnedOverseer,
        human_budget: int = 0,
        rounds: int = 1,
        min_share: float = 0.02,
        desk: TaskDesk | None = None,
        adversary: Adversary | None = None,
        transcripts: str | None = None,
        transcript_steps: int = 0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.desk, self.adversary = desk, adversary
        self.transcripts, self.transcript_steps = transcripts, transcript_steps
        if self.decomposition.depth != 1:
            raise ValueError("the learned overseer decomposes one level (depth 1)")
        self.learned_overseer, self.human_budget, self.rounds = (
            learned_overseer,
            human_budget,
            rounds,
        )
        self.min_share = min_share
        self.h_share = 1.0  # the share of the last round's questions H decomposed

    def allowance(self) -> float:
        """Calls to H this round may make: twice its even share of the budget left."""
        if not self.human_budget:
            return float("inf")
        left = self.human_budget - overseer_calls(self.counts)
        return min(left, np.ceil(2 * left / max(1, self.rounds - self.counts["rounds"])))

    def propose(self, rng: np.random.Generator) -> Round:
        """H's questions (within budget), and H''s at levels it is trusted at; the rest get no
        target."""
        if self.transcripts and not self.counts["rounds"]:  # a fresh run that starts from them
            self.learned_overseer.add_transcript(read_transcript(self.task, self.transcripts))
            self.learned_overseer.train(self.transcript_steps, rng)
        self.transcripts = None
        insts, levels, roots = self.sample_round(rng)
        trusted = self.learned_overseer.trusted[levels]
        to_h = rng.random(len(levels)) < np.where(trusted, self.min_share, 1.0)
        to_h &= np.cumsum(to_h) <= self.allowance()
        judged = to_h | trusted
        self.h_share = float(to_h.mean())
        return Round(insts, levels, roots, judged, {"to_h": to_h[judged]})

    def explain(self, inst, question, answerer, rng):
        """H' decomposes, as in training."""
        h_prime = self.learned_overseer.overseer([inst])
        return Decomposition(self.task, Engine(), 1, h_prime, LEARNED).tree(
            inst, question, answerer
        )

    def overseer_h(self, work: Round, teacher) -> Transcribing | HumanOverseer:
        """H for this round: the exact H, or people at the desk, recording their steps."""
        if self.desk is None:
            return Transcribing(self.task)
        facts = work.facts(self.device)
        score = None if self.adversary is None else AdversaryScorer(self.adversary, facts)
        slots = {id(inst): i for i, inst in enumerate(work.insts)}
        return HumanOverseer(self.desk, teacher, score, slots)

    def targets(self, work, roots, teacher, extra):
        answers = np.zeros(len(roots), dtype=np.int64)
        h, to_h, cost = self.overseer_h(work, teacher), work.extra["to_h"], Counter()
        for who, overseer, by in (
            (to_h, h, OVERSEER),
            (~to_h, self.learned_overseer.overseer(work.insts), LEARNED),
        ):
            index = np.flatnonzero(who)
            if len(index):
                decomposition = Decomposition(self.task, self.decomposition.engine, 1, overseer, by)
                picked = [roots[i] for i in index]
                trees = decomposition.run(work.insts, picked, teacher)
                answers[index] = [tree.answer for tree in trees]
                cost += tree_counts(trees)
                if by == OVERSEER and self.desk is not None:
                    self.desk.record(self.counts["rounds"], work.insts, picked, trees, h.who)
        extra["transcript"] = h.transcript
        return answers.tolist(), cost

    def absorb(self, work, done, rng):
        experience = super().absorb(work, done, rng)
        self.learned_overseer.learn(done.extra.get("transcript", []), rng)
        self.counts["rounds"] += 1
        return experience
