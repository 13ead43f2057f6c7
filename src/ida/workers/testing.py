"""What the workers' tests and benchmarks share: two small runs (question answering and a
game), rounds of a run's amplification here or on workers with a distillation step between
them (so each round asks new weights), experience compared field by field, and a backend that
kills one of its workers while it holds a part."""

from __future__ import annotations

import dataclasses
import os
import signal
from typing import Any

import numpy as np

from ida.core.loop import Workers, amplify
from ida.core.registry import domain_of
from ida.core.runs.config import RunConfig
from ida.core.runs.job import Job
from ida.core.runs.run import build
from ida.workers.pool import Pool

SMALL = {
    "union_find": dict(
        size=5,
        instances_per_round=8,
        questions_per_instance=4,
        batch_instances=8,
        eval_per_level=8,
        model={"d_model": 16, "n_heads": 2, "enc_layers": 1, "dec_layers": 1},
        device="cpu",
    ),
    "tic_tac_toe": dict(
        games=6,
        search={"simulations": 8},
        net={"width": 8, "blocks": 1, "value_hidden": 8},
        batch_size=16,
        device="cpu",
    ),
    "programs": dict(tasks=8, budget=100, batch_size=16, device="cpu"),
    "text_kb": dict(
        size=4, instances_per_round=4, questions_per_instance=4, batch_instances=4, device="cpu"
    ),
}


def small_config(task: str) -> RunConfig:
    """A run of ``task`` (one of ``SMALL``'s, a task of each domain) whose rounds take a
    fraction of a second."""
    return domain_of(task).configure(task, SMALL[task])


def rounds(job: Job, count: int, pool: Workers | None = None, seed: int = 0) -> list[Any]:
    """``count`` rounds of ``job``'s amplifier (on ``pool``, if given), each followed by one
    distillation step; the rounds' experience."""
    rng = np.random.default_rng(seed)
    loop, found = job.loop, []
    for _ in range(count):
        teacher = loop.distiller.teacher
        if pool is None:
            found.append(amplify(loop.amplifier, teacher, rng))
        else:
            found.append(pool.round(loop.amplifier, teacher, rng))
        loop.distiller.add(found[-1])
        loop.distiller.step(rng)
    return found


def work_counts(job: Job) -> dict[str, Any]:
    """The amplifier's counts but its wall-clock ones (``*_seconds``), which workers sum."""
    return {k: v for k, v in job.loop.amplifier.counts.items() if not k.endswith("seconds")}


def assert_same(ours: list, theirs: list) -> None:
    """Rounds of experience equal: exactly, but float values to rounding (a batch's
    composition changes the last bits of a network's output)."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(x, np.ndarray) and x.dtype.kind == "f":
                np.testing.assert_allclose(x, y, rtol=0, atol=1e-6, err_msg=f.name)
            else:
                np.testing.assert_array_equal(x, y, err_msg=f.name)


class KillOnce:
    """A backend that kills ``victim``'s process right after handing it its first part, so
    that the worker dies holding it."""

    def __init__(self, backend: Any, victim: int = 1):
        self.backend, self.victim, self.killed = backend, victim, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def start(self, worker: int, task: int, version: int, part: Any) -> None:
        self.backend.start(worker, task, version, part)
        if worker == self.victim and not self.killed:
            os.kill(self.backend.pids()[worker], signal.SIGKILL)
            self.killed = True


def same_as_here(cfg: RunConfig, backend: Any, count: int = 2) -> dict[str, Any]:
    """``count`` rounds of the run ``cfg`` here and on ``backend``'s workers, which must give
    the same experience and counts; the pool's report."""
    here, there = build(cfg), build(cfg)
    pool = Pool(backend)
    try:
        assert_same(rounds(here, count), rounds(there, count, pool))
        report = pool.report()
    finally:
        pool.close()
    assert work_counts(here) == work_counts(there)
    return report
