"""A worker's copy of the run: the amplifier and a teacher network, built from the run's config
by the domain that owns its task, that expands parts of rounds with the weights last loaded."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import torch

from ida.core.registry import domain_of
from ida.core.runs.config import RunConfig


@dataclass(frozen=True)
class Done:
    """A part expanded: its ``task`` id, the weights ``version`` it used, its trees."""

    task: int
    version: int
    result: Any


@dataclass(frozen=True)
class Lost:
    """A worker died: the ``task`` it was running is lost (None: every task it held)."""

    worker: int
    task: int | None = None


class WorkerFailed(RuntimeError):
    """An expand raised inside a worker: a bug, not a fault to retry; carries its traceback."""


class Replica:
    """The amplifier and teacher of a fresh job for ``cfg``, with ``threads`` torch threads."""

    def __init__(self, cfg: RunConfig, threads: int = 1):
        torch.set_num_threads(threads)
        job = domain_of(cfg.task).build(cfg)
        self.amplifier, self.teacher = job.loop.amplifier, job.loop.distiller.teacher
        self.version = 0  # no weights yet

    def load(self, version: int, weights: bytes | dict) -> None:
        """The teacher's weights of ``version`` (a state dict, or one pickled)."""
        state = pickle.loads(weights) if isinstance(weights, bytes) else weights
        self.teacher.load_state_dict(state)
        self.version = version

    def expand(self, part: Any) -> tuple[int, Any]:
        """The weights version used, and the trees of ``part``."""
        return self.version, self.amplifier.expand(self.teacher, part)


def weights_of(teacher: torch.nn.Module) -> dict:
    """The teacher's state, on the CPU, as workers load it."""
    return {k: v.detach().cpu() for k, v in teacher.state_dict().items()}
