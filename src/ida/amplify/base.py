"""What every source of training targets shares: sampling a round of questions by curriculum,
grading every possible answer against the reference (the overseer's approval), asking the
teacher for its own answers, and advancing the curriculum.

Subclasses say how targets are made: ``decompose.Amplifier`` by Amplify(H, A),
``ground_truth.GroundTruth`` (the supervised baseline) by the exact solver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ida.curriculum import Curriculum
from ida.distill.replay import UNJUDGED, Experience
from ida.models.qa import BatchedAnswerer, QAModel
from ida.tasks.base import Instance, Question, Task

if TYPE_CHECKING:
    from ida.learned_overseer import OverseerImitation
    from ida.trace import Node


class TargetSource(ABC):
    """Makes a round of ``instances`` x ``per_instance`` questions with training targets."""

    imitation: OverseerImitation | None = None  # H', the learned overseer, where one is used

    def __init__(
        self,
        task: Task,
        curriculum: Curriculum,
        instances: int,
        per_instance: int,
        device: torch.device,
        judge_share: float = 1.0,
        agree_with: str = "demonstration",
    ):
        self.task, self.curriculum = task, curriculum
        self.instances, self.per_instance, self.device = instances, per_instance, device
        self.judge_share, self.agree_with = judge_share, agree_with
        self.counts: Counter = Counter()

    @abstractmethod
    def targets(
        self, insts: list[Instance], roots: list[tuple[int, Question]], teacher: BatchedAnswerer
    ) -> list[int]:
        """A training target per root (instance slot, question); adds to ``self.counts``."""

    def count(self, trees: Iterable[Node]) -> None:
        """Add every node of ``trees`` to ``counts``, by who answered it."""
        self.counts.update(node.by for tree in trees for node in tree.walk())

    def references(
        self,
        insts: list[Instance],
        roots: list[tuple[int, Question]],
        teacher: BatchedAnswerer,
        targets: list[int],
    ) -> list[int]:
        """The answer per root that approval is graded against; by default the target."""
        return targets

    def state_dict(self) -> dict:
        """What a checkpoint keeps beyond ``counts``: the learned overseer H', if there is one."""
        return {} if self.imitation is None else {"imitation": self.imitation.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict``."""
        if self.imitation is not None and "imitation" in state:
            self.imitation.load_state_dict(state["imitation"])

    def to_judge(self, levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which of a round's questions (at these ``levels``) get a target: a ``judge_share``."""
        if self.judge_share < 1:
            return rng.random(len(levels)) < self.judge_share
        return np.ones(len(levels), dtype=bool)

    def sample_round(
        self, rng: np.random.Generator
    ) -> tuple[list[Instance], np.ndarray, list[tuple[int, Question]]]:
        """Fresh instances, and ``per_instance`` root questions for each at curriculum levels."""
        task = self.task
        insts = [task.sample_instance(rng) for _ in range(self.instances)]
        levels = self.curriculum.sample(rng, self.instances * self.per_instance)
        roots = [
            (
                i // self.per_instance,
                task.sample_question(rng, insts[i // self.per_instance], int(lv)),
            )
            for i, lv in enumerate(levels)
        ]
        return insts, levels, roots

    def amplify(self, teacher: QAModel, rng: np.random.Generator) -> Experience:
        """One round: questions by curriculum; for a ``judge_share`` of them, targets and the
        approval of every answer; and the curriculum's update."""
        task = self.task
        insts, levels, roots = self.sample_round(rng)
        n = len(roots)
        judged = self.to_judge(levels, rng)
        index = np.flatnonzero(judged)
        facts = np.stack([inst.facts for inst in insts])
        targets = np.full(n, UNJUDGED, dtype=np.int64)
        scores = np.full((n, task.answer_size), np.nan, dtype=np.float32)
        if len(index):
            picked = [roots[i] for i in index]
            answerer = BatchedAnswerer(teacher, torch.from_numpy(facts).to(self.device))
            made = self.targets(insts, picked, answerer)
            graded = self.references(insts, picked, answerer, made)
            targets[index] = made
            scores[index] = np.stack(
                [task.approval(q, r) for (_, q), r in zip(picked, graded, strict=True)]
            )
            own = np.asarray(answerer(picked))
            if self.agree_with == "approval":
                agree = scores[index, own] >= scores[index].max(1)
            else:
                agree = own == targets[index]
            self.curriculum.update(levels[index], agree)
        shape = (self.instances, self.per_instance)
        return Experience(
            facts=facts,
            questions=np.asarray([q for _, q in roots], dtype=np.int64).reshape(*shape, -1),
            targets=targets.reshape(shape),
            levels=levels.reshape(shape),
            scores=scores.reshape(*shape, -1),
        )
