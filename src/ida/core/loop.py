"""The IDA loop, the whole program in one place:

    A = random init                       (or A <- Distill(H): warm_start_steps)
    repeat:
        targets = Amplify(H, A_teacher)   amplify(amplifier, ...)  (H plus many calls to A)
        A <- Distill(targets)             distiller.step     (train fast A to imitate them)
        evaluate, log, checkpoint

Amplification comes in three parts, so that its expensive middle can run anywhere:
``propose`` (stateful: the round's roots, by curriculum, and the seed of any randomness the
trees need), ``expand`` (pure: the teacher's weights and the roots to finished trees, touching
no state of the amplifier, so another process could run it) and ``absorb`` (stateful: trees
to experience, and the curriculum, counts, annealing and learned overseers updated from them).
An amplifier that can also ``split`` a round's work and ``merge`` the parts' trees (``Parallel``)
can have its expand run by ``Workers`` (``ida.workers``: local processes or Ray actors) while
propose, absorb and distillation stay here. The loop knows nothing of questions, games or
programs: any ``Amplifier`` and any ``Distiller`` plug in.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from torch import nn

from ida.core.errors import IdaError


class Amplifier(Protocol):
    """Turns the current (teacher) model into a round of training experience."""

    counts: Counter  # cumulative cost: overseer_calls, model_calls, labels, ...

    def propose(self, rng: np.random.Generator) -> Any:
        """The next round's work (its roots), drawn from ``rng``."""

    def expand(self, teacher: nn.Module, work: Any) -> Any:
        """The round's trees; pure: reads ``teacher`` and ``work``, changes nothing else."""

    def absorb(self, work: Any, trees: Any, rng: np.random.Generator) -> Any:
        """Experience to distil from the finished ``trees``; updates the amplifier's state
        (drawing from ``rng`` where that needs randomness: a learned overseer's training)."""


class Parallel(Amplifier, Protocol):
    """An amplifier whose expand can be cut up: ``merge(work, [expand(teacher, part) for part
    in split(work, n)])`` equals ``expand(teacher, work)``, counts and all."""

    def split(self, work: Any, parts: int) -> list[Any]:
        """``work`` as at most ``parts`` non-empty parts, in order."""

    def merge(self, work: Any, expanded: list[Any]) -> Any:
        """The trees of ``work`` from its parts' trees, in the order of ``split``."""


class Workers(Protocol):
    """Runs rounds of a ``Parallel`` amplifier with expand elsewhere (``ida.workers``)."""

    def round(self, amplifier: Parallel, teacher: nn.Module, rng: np.random.Generator) -> Any:
        """One round's experience, as ``amplify`` would give it."""

    def report(self) -> dict[str, Any]:
        """Counters for the run's metrics: rounds, parts, weights shipped, workers lost..."""

    def close(self) -> None:
        """Stop the workers."""


def check_parallel(amplifier: Amplifier) -> None:
    """A one-line error unless ``amplifier`` can have its expand run by workers."""
    if not callable(getattr(amplifier, "split", None)):
        raise IdaError(
            f"{type(amplifier).__name__} cannot run on workers: its expand reads state that "
            "changes in the learner (H', people at the workbench); train without --workers"
        )


def split_items(items: Sequence, parts: int) -> list[list]:
    """``items`` in at most ``parts`` contiguous, non-empty, near-equal runs."""
    bounds = np.linspace(0, len(items), max(1, min(parts, len(items))) + 1).astype(int)
    return [list(items[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


def merge_counted(expanded: list[tuple[list, Counter]]) -> tuple[list, Counter]:
    """Parts' ``(results, counts)`` as one: the results concatenated, the counts summed."""
    results: list = []
    counts: Counter = Counter()
    for part, part_counts in expanded:
        results += part
        counts.update(part_counts)
    return results, counts


def amplify(amplifier: Amplifier, teacher: nn.Module, rng: np.random.Generator) -> Any:
    """One round of Amplify(H, A): propose, expand, absorb."""
    work = amplifier.propose(rng)
    return amplifier.absorb(work, amplifier.expand(teacher, work), rng)


class Distiller(Protocol):
    """Learns from experience; owns the teacher copy that amplification uses."""

    teacher: nn.Module

    def add(self, experience: Any) -> None: ...

    def step(self, rng: np.random.Generator) -> dict[str, float]: ...


@dataclass
class Loop:
    """Amplify -> distill, iterated; ``on_eval`` gets each evaluation, ``on_step`` each step."""

    amplifier: Amplifier
    distiller: Distiller
    evaluate: Callable[[], dict[str, Any]]
    amplify_every: int = 1
    warm_start: Amplifier | None = None
    warm_start_steps: int = 0
    workers: Workers | None = None  # where the amplifier's expand runs (None: right here)
    step: int = 0
    last: dict[str, float] = field(default_factory=dict)

    def run(
        self,
        until: int,
        rng: np.random.Generator,
        eval_every: int,
        on_eval: Callable[[dict[str, Any]], None],
        on_step: Callable[[Loop], None] | None = None,
    ) -> None:
        while self.step < until:
            if self.step % self.amplify_every == 0:
                source = self.amplifier
                if self.warm_start is not None and self.step < self.warm_start_steps:
                    source = self.warm_start
                teacher = self.distiller.teacher
                if self.workers is not None and source is self.amplifier:
                    self.distiller.add(self.workers.round(source, teacher, rng))
                else:
                    self.distiller.add(amplify(source, teacher, rng))
            self.last = self.distiller.step(rng)
            self.step += 1
            if self.step % eval_every == 0 or self.step == until:
                on_eval(self.evaluate())
            if on_step is not None:
                on_step(self)
