"""What every source of training targets shares, as the loop's propose / expand / absorb:

* ``propose``: a round of fresh instances and root questions at curriculum levels, and which
  of them get a target (``judge_share``);
* ``expand`` (pure): targets for those roots (``targets``, which subclasses define), the answer
  approval is graded against (``references``), the teacher's own answers, and the cost;
* ``absorb``: counts, the approval of every answer, the curriculum's update, and the round as
  ``Experience``.

``TargetAmplifier``'s subclasses say how targets are made: ``DecompositionAmplifier`` by
Amplify(H, A), ``GroundTruth`` (the supervised baseline) by the exact solver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ida.core.curriculum import Curriculum
from ida.core.loop import amplify, split_items
from ida.domains.qa.experience import UNJUDGED, Experience
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.tasks.base import Instance, Question, Task
from ida.domains.qa.trace import Node

Roots = list[tuple[int, Question]]  # (instance slot, question)


@dataclass
class Round:
    """A round's work: ``insts``, root questions at curriculum ``levels``, which of them are
    ``judged`` (get a target), and what a subclass's expansion needs besides (``extra``)."""

    insts: list[Instance]
    levels: np.ndarray
    roots: Roots
    judged: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def picked(self) -> Roots:
        """The judged roots."""
        return [self.roots[i] for i in np.flatnonzero(self.judged)]

    def facts(self, device: torch.device) -> torch.Tensor:
        return torch.from_numpy(np.stack([inst.facts for inst in self.insts])).to(device)


@dataclass
class Expansion:
    """A round's finished trees, as absorb needs them: per judged root its ``target``, the
    ``reference`` approval is graded against and the teacher's ``own`` answer; the ``counts``
    of who answered what, and anything else a subclass's absorb reads (``extra``)."""

    targets: list[int]
    references: list[int]
    own: list[int]
    counts: Counter
    extra: dict[str, Any] = field(default_factory=dict)


def tree_counts(trees: Iterable[Node]) -> Counter:
    """Every node of ``trees``, counted by who answered it."""
    return Counter(node.by for tree in trees for node in tree.walk())


class QuestionAmplifier(ABC):
    """What every amplifier of questions has: its task and curriculum, a round's size, counts,
    a learned overseer's checkpoint state, and the sampling of a round's roots."""

    learned_overseer = None  # H', where one is used (``ida.domains.qa.overseers``)

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

    def state_dict(self) -> dict:
        """What a checkpoint keeps beyond ``counts``: the learned overseer H', if there is one."""
        h_prime = self.learned_overseer
        return {} if h_prime is None else {"learned_overseer": h_prime.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict``."""
        if self.learned_overseer is not None and "learned_overseer" in state:
            self.learned_overseer.load_state_dict(state["learned_overseer"])

    def sample_round(self, rng: np.random.Generator) -> tuple[list[Instance], np.ndarray, Roots]:
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

    @abstractmethod
    def explain(
        self,
        inst: Instance,
        question: Question,
        answerer: BatchedAnswerer,
        rng: np.random.Generator,
    ) -> Node:
        """One tree for ``question`` about ``inst`` (slot 0 of ``answerer``), grown the way this
        amplifier grows its trees: what ``ida show`` draws."""

    def amplify(self, teacher: nn.Module, rng: np.random.Generator) -> Experience:
        """One whole round: propose, expand, absorb."""
        return amplify(self, teacher, rng)


class TargetAmplifier(QuestionAmplifier):
    """Makes a round of ``instances`` x ``per_instance`` questions, a target for each judged one."""

    @abstractmethod
    def targets(
        self, work: Round, roots: Roots, teacher: BatchedAnswerer, extra: dict[str, Any]
    ) -> tuple[list[int], Counter]:
        """A training target per root, and what making them cost; pure, but for ``extra``, the
        fresh dict that absorb will read as ``Expansion.extra`` (H's transcript, say)."""

    def references(
        self, work: Round, roots: Roots, teacher: BatchedAnswerer, targets: list[int]
    ) -> tuple[list[int], Counter]:
        """The answer per root that approval is graded against (by default the target), and
        what finding it cost."""
        return targets, Counter()

    def to_judge(self, levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which of a round's questions (at these ``levels``) get a target: a ``judge_share``."""
        if self.judge_share < 1:
            return rng.random(len(levels)) < self.judge_share
        return np.ones(len(levels), dtype=bool)

    def propose(self, rng: np.random.Generator) -> Round:
        insts, levels, roots = self.sample_round(rng)
        return Round(insts, levels, roots, self.to_judge(levels, rng))

    def expand(self, teacher: nn.Module, work: Round) -> Expansion:
        picked = work.picked
        if not picked:
            return Expansion([], [], [], Counter())
        answerer = BatchedAnswerer(teacher, work.facts(self.device))
        extra: dict[str, Any] = {}
        made, cost = self.targets(work, picked, answerer, extra)
        graded, judging = self.references(work, picked, answerer, made)
        return Expansion(made, graded, answerer(picked), cost + judging, extra)

    def split(self, work: Round, parts: int) -> list[Round]:
        """The round as runs of whole instances, each with its own roots (re-slotted)."""
        per, found = self.per_instance, []
        for part in split_items(range(len(work.insts)), parts):
            a, b = part[0], part[-1] + 1
            rows = slice(a * per, b * per)
            roots = [(slot - a, q) for slot, q in work.roots[rows]]
            found.append(
                Round(work.insts[a:b], work.levels[rows], roots, work.judged[rows], work.extra)
            )
        return found

    def merge(self, work: Round, expanded: list[Expansion]) -> Expansion:
        merged = Expansion([], [], [], Counter())
        for part in expanded:
            merged.targets += part.targets
            merged.references += part.references
            merged.own += part.own
            merged.counts.update(part.counts)
            for key, value in part.extra.items():
                merged.extra[key] = merged.extra.get(key, []) + value
        return merged

    def absorb(self, work: Round, done: Expansion, rng: np.random.Generator) -> Experience:
        """Counts, approval of every answer, the curriculum's update; the round's experience."""
        self.counts.update(done.counts)
        n, index = len(work.roots), np.flatnonzero(work.judged)
        targets = np.full(n, UNJUDGED, dtype=np.int64)
        scores = np.full((n, self.task.answer_size), np.nan, dtype=np.float32)
        if len(index):
            targets[index] = done.targets
            scores[index] = np.stack(
                [
                    self.task.approval(q, r)
                    for (_, q), r in zip(work.picked, done.references, strict=True)
                ]
            )
            own = np.asarray(done.own)
            if self.agree_with == "approval":
                agree = scores[index, own] >= scores[index].max(1)
            else:
                agree = own == targets[index]
            self.curriculum.update(work.levels[index], agree)
        shape = (self.instances, self.per_instance)
        return Experience(
            facts=np.stack([inst.facts for inst in work.insts]),
            questions=np.asarray([q for _, q in work.roots], dtype=np.int64).reshape(*shape, -1),
            targets=targets.reshape(shape),
            levels=work.levels.reshape(shape),
            scores=scores.reshape(*shape, -1),
        )
