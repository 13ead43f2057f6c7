"""Experience (questions with training targets) and the replay buffer distillation samples from.

Experience is stored instance-major, ``questions_per_instance`` questions per instance, so a
training batch encodes each sampled instance's facts once for all of its questions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Experience:
    """A round of targets: facts [I, F, L], questions [I, Q, qlen], targets and levels [I, Q]."""

    facts: np.ndarray
    questions: np.ndarray
    targets: np.ndarray
    levels: np.ndarray

    def __len__(self) -> int:
        return len(self.facts)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(facts, flat questions, instance index per question, flat targets) as tensors."""
        n, q = self.targets.shape
        return (
            torch.from_numpy(self.facts),
            torch.from_numpy(self.questions.reshape(n * q, -1)),
            torch.arange(n).repeat_interleave(q),
            torch.from_numpy(self.targets.reshape(-1)),
        )


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` instances' experience."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.size = 0
        self.pos = 0
        self.data: Experience | None = None

    def add(self, exp: Experience) -> None:
        if self.data is None:

            def empty(a: np.ndarray) -> np.ndarray:
                return np.zeros((self.capacity, *a.shape[1:]), dtype=a.dtype)

            self.data = Experience(*(empty(a) for a in vars(exp).values()))
        idx = (self.pos + np.arange(len(exp))) % self.capacity
        for name, array in vars(exp).items():
            getattr(self.data, name)[idx] = array
        self.pos = int((self.pos + len(exp)) % self.capacity)
        self.size = min(self.size + len(exp), self.capacity)

    def sample(self, rng: np.random.Generator, instances: int) -> Experience:
        """``instances`` stored instances, drawn uniformly, with all of their questions."""
        if self.data is None:
            raise RuntimeError("replay buffer is empty")
        idx = rng.integers(0, self.size, size=instances)
        return Experience(*(a[idx] for a in vars(self.data).values()))

    def state_dict(self) -> dict:
        arrays = {k: v[: self.size] for k, v in vars(self.data).items()} if self.data else None
        return {"size": self.size, "pos": self.pos, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        self.size, self.pos, self.data = 0, 0, None
        if state["arrays"] is not None:
            self.add(Experience(**state["arrays"]))
            self.pos = state["pos"]
