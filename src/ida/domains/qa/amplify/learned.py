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
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ida.core.engine import Engine
from ida.domains.qa.amplify.base import Round
from ida.domains.qa.amplify.decompose import Decomposition, DecompositionAmplifier
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer, Transcribing
from ida.domains.qa.trace import LEARNED, OVERSEER, overseer_calls


class LearnedOverseerAmplifier(DecompositionAmplifier):
    """Amplify(H, A) on a budgeted share of the questions, Amplify(H', A) once H' is trusted."""

    def __init__(
        self,
        *args,
        learned_overseer: LearnedOverseer,
        human_budget: int = 0,
        rounds: int = 1,
        min_share: float = 0.02,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
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

    def targets(self, work, roots, teacher, extra):
        answers = np.zeros(len(roots), dtype=np.int64)
        h, to_h, cost = Transcribing(self.task), work.extra["to_h"], Counter()
        for who, overseer, by in (
            (to_h, h, OVERSEER),
            (~to_h, self.learned_overseer.overseer(work.insts), LEARNED),
        ):
            index = np.flatnonzero(who)
            if len(index):
                decomposition = Decomposition(self.task, self.decomposition.engine, 1, overseer, by)
                picked = [roots[i] for i in index]
                answers[index], spent = self.answers(decomposition, work, picked, teacher)
                cost += spent
        extra["transcript"] = h.transcript
        return answers.tolist(), cost

    def absorb(self, work, done, rng):
        experience = super().absorb(work, done, rng)
        self.learned_overseer.learn(done.extra.get("transcript", []), rng)
        self.counts["rounds"] += 1
        return experience
