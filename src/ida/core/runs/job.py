"""A run's live objects, as the run machinery sees them: whatever the domain, a ``Job`` has a
config, a loop, a random generator and a model, and it can evaluate, report and checkpoint."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ida.core.loop import Loop
from ida.core.runs.config import RunConfig
from ida.core.runs.plots import plot_curves


class Job(ABC):
    """Built by a domain from a config; ``state_dict`` is everything a checkpoint needs."""

    cfg: RunConfig
    loop: Loop
    rng: np.random.Generator
    model: nn.Module

    @abstractmethod
    def evaluate(self) -> dict[str, Any]:
        """Held-out numbers for this moment of training; ``accuracy`` at least."""

    @abstractmethod
    def record(self) -> dict[str, Any]:
        """What each evaluation's metrics line adds: costs, curriculum level, and the like."""

    @abstractmethod
    def progress(self) -> str:
        """A short status for the progress bar (the cost so far, say)."""

    @abstractmethod
    def report(self, record: dict[str, Any]) -> str:
        """One line per evaluation for the terminal, from its metrics ``record``."""

    @abstractmethod
    def summary(self, last: dict[str, Any]) -> dict[str, Any]:
        """The headline numbers at the end, from the last metrics record."""

    def plot(self, records: list[dict[str, Any]], path: Path) -> None:
        """Draw curves.png from the metrics ``records`` (accuracy and costs, by default)."""
        plot_curves(records, path, self.cfg.label())

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...
