"""A run's live objects, as the run machinery sees them: whatever the domain, a ``Job`` has a
config, a loop, a random generator and a model, and it can evaluate, report and checkpoint."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch
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

    def start(self) -> None:
        """Connect to what training needs beyond this process (a database, say), before the
        first step: a bad address fails here, as one line. By default nothing."""
        return None

    def plot(self, records: list[dict[str, Any]], path: Path) -> None:
        """Draw curves.png from the metrics ``records`` (accuracy and costs, by default)."""
        plot_curves(records, path, self.cfg.label())

    def common_state(self) -> dict:
        """What every checkpoint holds: the step, the model's weights, the distiller's state
        (optimizer, replay) and the random generators; a domain adds its own."""
        return {
            "step": self.loop.step,
            "model": self.model.state_dict(),
            "distiller": self.loop.distiller.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    def load_common_state(self, state: dict) -> None:
        """Restore what ``common_state`` saved."""
        self.model.load_state_dict(state["model"])
        self.loop.distiller.load_state_dict(state["distiller"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.loop.step = state["step"]

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...
