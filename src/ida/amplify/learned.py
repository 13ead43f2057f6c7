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
keeps training on the steps it has (``OverseerImitation.learn``, every round). Every call to
H is counted (``overseer_calls``), and so is every question H' decomposes (``imitation_calls``).
"""

from __future__ import annotations

import numpy as np

from ida.amplify.decompose import Amplifier, Decomposition
from ida.learned_overseer import OverseerImitation, Transcribing
from ida.models.qa import BatchedAnswerer
from ida.tasks.base import Instance, Question, Transcript
from ida.trace import IMITATION, OVERSEER, overseer_calls


class LearnedOverseerAmplifier(Amplifier):
    """Amplify(H, A) on a budgeted share of the questions, Amplify(H', A) once H' is trusted."""

    def __init__(
        self,
        *args,
        imitation: OverseerImitation,
        human_budget: int = 0,
        rounds: int = 1,
        min_share: float = 0.02,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if self.decomposition.depth != 1:
            raise ValueError("the learned overseer decomposes one level (depth 1)")
        self.imitation, self.human_budget, self.rounds = imitation, human_budget, rounds
        self.min_share = min_share
        self.to_h = np.zeros(0, dtype=bool)  # this round's judged questions: H's, or H''s
        self.transcript: Transcript = []  # the steps H took this round
        self.h_share = 1.0  # the share of the last round's questions H decomposed

    def allowance(self) -> float:
        """Calls to H this round may make: twice its even share of the budget left."""
        if not self.human_budget:
            return float("inf")
        left = self.human_budget - overseer_calls(self.counts)
        return min(left, np.ceil(2 * left / max(1, self.rounds - self.counts["rounds"])))

    def to_judge(self, levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """H's questions (within budget), and H''s at levels it is trusted at; the rest get no
        target."""
        trusted = self.imitation.trusted[levels]
        to_h = rng.random(len(levels)) < np.where(trusted, self.min_share, 1.0)
        to_h &= np.cumsum(to_h) <= self.allowance()
        judged = to_h | trusted
        self.to_h, self.h_share = to_h[judged], float(to_h.mean())
        return judged

    def targets(
        self, insts: list[Instance], roots: list[tuple[int, Question]], teacher: BatchedAnswerer
    ) -> list[int]:
        answers = np.zeros(len(roots), dtype=np.int64)
        h = Transcribing(self.task)
        for who, overseer, by in (
            (self.to_h, h, OVERSEER),
            (~self.to_h, self.imitation.overseer(insts), IMITATION),
        ):
            index = np.flatnonzero(who)
            if len(index):
                decomposition = Decomposition(self.task, self.decomposition.engine, 1, overseer, by)
                picked = [roots[i] for i in index]
                answers[index] = self._answers(decomposition, insts, picked, teacher)
        self.transcript = h.transcript
        return answers.tolist()

    def amplify(self, teacher, rng):
        self.transcript = []
        experience = super().amplify(teacher, rng)
        self.imitation.learn(self.transcript, rng)
        self.counts["rounds"] += 1
        return experience
