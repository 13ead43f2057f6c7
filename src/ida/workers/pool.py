"""The learner's side of the workers: rounds cut into parts, weights shipped once per version,
parts gathered, the parts of a dead worker redone, and up to ``lag`` rounds expanded ahead.

With ``lag`` 0 each round is proposed, expanded by the workers with the teacher's current weights
and absorbed before distillation goes on: the same targets, counts and metrics as expanding it
here. With ``lag`` L the next L rounds are already being expanded, with weights up to L versions
old, while the learner distils: throughput for staleness, counted (``lagged_rounds``).

A part is counted only when its trees are merged, and each part is merged once: a worker that
dies takes its unfinished parts' partial counts with it, and another expands them again from
the start. A part that is lost ``max_tries`` times in a row (a cluster that is gone) is a
one-line error; the run resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from torch import nn

from ida.core.errors import IdaError
from ida.core.loop import Parallel, check_parallel
from ida.core.runs.job import Job
from ida.workers.replica import Done, Lost, weights_of

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class WorkerSettings:
    """``workers`` processes (0: expand in the learner) on ``backend`` "local" or "ray" (at
    ``address``, or a Ray started here), rounds expanded up to ``lag`` ahead, ``threads`` torch
    threads per worker."""

    workers: int = 0
    backend: str = "local"
    address: str | None = None
    lag: int = 0
    threads: int = 1

    def check(self) -> None:
        """A one-line error for settings that cannot run."""
        if self.workers < 0:
            raise IdaError(f"--workers must be 0 or more, got {self.workers}")
        if self.backend not in BACKENDS:
            raise IdaError(f"unknown backend {self.backend!r}; choose one of: local, ray")
        if self.lag < 0:
            raise IdaError(f"--lag must be 0 or more, got {self.lag}")
        if self.threads < 1:
            raise IdaError(f"worker threads must be 1 or more, got {self.threads}")
        if self.address is not None and self.backend != "ray":
            raise IdaError("--address names a Ray cluster: add --backend ray")
        if self.workers == 0 and (self.backend == "ray" or self.lag):
            raise IdaError("--backend ray and --lag need --workers 1 or more")


class Backend(Protocol):
    """Runs replicas; ``pool.py`` decides what each does."""

    size: int
    stats: Counter

    def ship(self, version: int, weights: dict) -> None:
        """Make the teacher's ``weights`` of ``version`` available to every worker."""

    def forget(self, below: int) -> None:
        """Drop the weights of versions below ``below``: no part needs them any more."""

    def start(self, worker: int, task: int, version: int, part: Any) -> None:
        """Queue ``part`` on ``worker``, to be expanded with the weights of ``version``."""

    def wait(self) -> list[Done | Lost]:
        """What has happened since: parts done, workers lost (and already replaced)."""

    def pids(self) -> list[int]:
        """The workers' process ids (for fault benchmarks)."""

    def close(self) -> None: ...


@dataclass
class _Task:
    id: int
    round: _Round
    index: int
    part: Any
    worker: int
    tries: int = 0


@dataclass
class _Round:
    work: Any
    version: int
    parts: list[Any] = field(default_factory=list)
    left: int = 0


class Pool:
    """Expands rounds of a ``Parallel`` amplifier on ``backend``'s workers (``Loop.workers``)."""

    def __init__(self, backend: Backend, lag: int = 0, max_tries: int = 5):
        self.backend, self.lag, self.max_tries = backend, lag, max_tries
        self.version = 0  # weight versions shipped
        self.rounds: deque[_Round] = deque()
        self.tasks: dict[int, _Task] = {}
        self.next_task = 0
        self.stats: Counter = Counter()

    def round(self, amplifier: Parallel, teacher: nn.Module, rng: np.random.Generator) -> Any:
        """One round's experience: the oldest round in flight, gathered, merged and absorbed
        (proposing and starting rounds first until ``lag`` + 1 are in flight)."""
        check_parallel(amplifier)
        while len(self.rounds) <= self.lag:
            self._submit(amplifier, amplifier.propose(rng), teacher)
        current = self.rounds[0]
        started = time.perf_counter()
        while current.left:
            self._collect()
        self.stats["wait_seconds"] += time.perf_counter() - started
        self.rounds.popleft()
        self.backend.forget(self.rounds[0].version if self.rounds else self.version)
        lag = self.version - current.version
        self.stats["rounds"] += 1
        self.stats["lagged_rounds"] += lag > 0
        self.stats["max_lag"] = max(self.stats["max_lag"], lag)
        started = time.perf_counter()
        trees = amplifier.merge(current.work, current.parts)
        self.stats["merge_seconds"] += time.perf_counter() - started
        return amplifier.absorb(current.work, trees, rng)

    def _submit(self, amplifier: Parallel, work: Any, teacher: nn.Module) -> None:
        started = time.perf_counter()
        self.version += 1
        self.backend.ship(self.version, weights_of(teacher))
        parts = amplifier.split(work, self.backend.size)
        current = _Round(work, self.version, [None] * len(parts), len(parts))
        for index, part in enumerate(parts):
            task = _Task(self.next_task, current, index, part, index % self.backend.size)
            self.next_task += 1
            self.tasks[task.id] = task
            self.backend.start(task.worker, task.id, self.version, part)
        self.rounds.append(current)
        self.stats["parts"] += len(parts)
        self.stats["ship_seconds"] += time.perf_counter() - started

    def _collect(self) -> None:
        for event in self.backend.wait():
            if isinstance(event, Lost):
                self._redo(event)
                continue
            task = self.tasks.pop(event.task, None)
            if task is None:  # a part already redone elsewhere and merged: counted once
                self.stats["duplicates_dropped"] += 1
                continue
            if event.version != task.round.version:
                raise RuntimeError(f"part {task.id} expanded with weights {event.version}")
            task.round.parts[task.index] = event.result
            task.round.left -= 1

    def _redo(self, lost: Lost) -> None:
        """Start again, on the worker's replacement, every unfinished part it held."""
        self.stats["workers_lost"] += 1
        for task in list(self.tasks.values()):
            if task.worker != lost.worker or lost.task not in (None, task.id):
                continue
            task.tries += 1
            if task.tries >= self.max_tries:
                raise IdaError(
                    f"worker {task.worker} was lost {task.tries} times running one part: "
                    "the workers are gone; the last checkpoint is intact (resume with --resume)"
                )
            self.stats["parts_redone"] += 1
            self.backend.start(task.worker, task.id, task.round.version, task.part)

    def pids(self) -> list[int]:
        return self.backend.pids()

    def report(self) -> dict[str, Any]:
        """The pool's counters with the backend's, for the run's metrics."""
        merged = {**self.stats, **self.backend.stats}
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in merged.items()}

    def close(self) -> None:
        self.backend.close()


def start_workers(settings: WorkerSettings, job: Job) -> Pool | None:
    """A pool of ``settings.workers`` replicas of ``job``'s run (None for 0: expand here)."""
    settings.check()
    if settings.workers == 0:
        return None
    check_parallel(job.loop.amplifier)
    cfg = job.cfg
    if settings.backend == "ray":
        from ida.workers.on_ray import RayBackend

        backend: Backend = RayBackend(cfg, settings.workers, settings.threads, settings.address)
    else:
        from ida.workers.local import LocalBackend

        backend = LocalBackend(cfg, settings.workers, settings.threads)
    return Pool(backend, settings.lag)
