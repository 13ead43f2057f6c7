"""What every source of training targets shares: sampling a round of questions by curriculum,
asking the teacher for its own answers to them, and advancing the curriculum.

Subclasses say how targets are made: ``decompose.Amplifier`` by Amplify(H, A),
``ground_truth.GroundTruth`` (the supervised baseline) by the exact solver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

import numpy as np
import torch

from ida.curriculum import Curriculum
from ida.distill.replay import Experience
from ida.models.qa import BatchedAnswerer, QAModel
from ida.tasks.base import Instance, Question, Task


class TargetSource(ABC):
    """Makes a round of ``instances`` x ``per_instance`` questions with training targets."""

    def __init__(
        self,
        task: Task,
        curriculum: Curriculum,
        instances: int,
        per_instance: int,
        device: torch.device,
    ):
        self.task, self.curriculum = task, curriculum
        self.instances, self.per_instance, self.device = instances, per_instance, device
        self.counts: Counter = Counter()

    @abstractmethod
    def targets(
        self, insts: list[Instance], roots: list[tuple[int, Question]], teacher: BatchedAnswerer
    ) -> list[int]:
        """A training target per root (instance slot, question); adds to ``self.counts``."""

    def amplify(self, teacher: QAModel, rng: np.random.Generator) -> Experience:
        """One round: questions by curriculum, their targets, and the curriculum's update."""
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
        facts = np.stack([inst.facts for inst in insts])
        answerer = BatchedAnswerer(teacher, torch.from_numpy(facts).to(self.device))
        targets = np.asarray(self.targets(insts, roots, answerer), dtype=np.int64)
        agree = np.asarray(answerer(roots)) == targets
        self.curriculum.update(levels, agree)
        shape = (self.instances, self.per_instance)
        return Experience(
            facts=facts,
            questions=np.asarray([q for _, q in roots], dtype=np.int64).reshape(*shape, -1),
            targets=targets.reshape(shape),
            levels=levels.reshape(shape),
        )
