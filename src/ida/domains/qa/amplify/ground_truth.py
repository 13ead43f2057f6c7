"""The supervised baseline's targets: the exact solver's answers, one label per question.

Not amplification: it shares the amplifiers' interface so that the baseline runs through the
same loop, model, curriculum and budget, and differs only in where targets come from.
"""

from __future__ import annotations

from collections import Counter

from ida.core.engine import Engine
from ida.domains.qa.amplify.base import TargetAmplifier
from ida.domains.qa.amplify.decompose import Decomposition


class GroundTruth(TargetAmplifier):
    """Targets from ``task.solve``; counts ``labels``."""

    def explain(self, inst, question, answerer, rng):
        """What the baseline's model would have been asked by IDA: H decomposes, A answers."""
        return Decomposition(self.task, Engine()).tree(inst, question, answerer)

    def targets(self, work, roots, teacher, extra):
        labels = [self.task.solve(work.insts[slot], q) for slot, q in roots]
        return labels, Counter(labels=len(roots))
