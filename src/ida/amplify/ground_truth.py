"""The supervised baseline's targets: the exact solver's answers, one label per question.

Not amplification: it shares the amplifiers' interface so that the baseline runs through the
same loop, model, curriculum and budget, and differs only in where targets come from.
"""

from __future__ import annotations

from ida.amplify.base import TargetSource
from ida.models.qa import BatchedAnswerer
from ida.tasks.base import Instance, Question


class GroundTruth(TargetSource):
    """Targets from ``task.solve``; counts ``labels``."""

    def targets(
        self, insts: list[Instance], roots: list[tuple[int, Question]], teacher: BatchedAnswerer
    ) -> list[int]:
        self.counts["labels"] += len(roots)
        return [self.task.solve(insts[slot], q) for slot, q in roots]
