"""Arrays of experience and the replay buffer that distillation samples from.

``Arrays`` is any dataclass of numpy arrays that share their first axis; a domain's experience
(questions with targets, game positions with visit counts, program edits) is one. The buffer
keeps the last ``capacity`` rows of whatever kind it is given.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Self

import numpy as np


class Arrays:
    """A dataclass of numpy arrays that share their first axis (rows)."""

    def __len__(self) -> int:
        return len(next(iter(self.arrays().values())))

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields that are present, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def rows(self, index) -> Self:
        """The rows ``index`` (an int array or a slice), of every field."""
        return type(self)(**{k: a[index] for k, a in self.arrays().items()})

    @classmethod
    def cat(cls, parts: list[Self]) -> Self:
        """The rows of ``parts``, one after another."""
        names = parts[0].arrays()
        return cls(**{k: np.concatenate([p.arrays()[k] for p in parts]) for k in names})


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` rows of ``Arrays`` of one kind."""

    def __init__(self, capacity: int, kind: type[Arrays]):
        self.capacity, self.kind = capacity, kind
        self.size = 0
        self.pos = 0
        self.data: Arrays | None = None

    def add(self, rows: Arrays) -> None:
        arrays = rows.arrays()
        if self.data is None:
            self.data = self.kind(
                **{
                    k: np.zeros((self.capacity, *a.shape[1:]), dtype=a.dtype)
                    for k, a in arrays.items()
                }
            )
        idx = (self.pos + np.arange(len(rows))) % self.capacity
        for name, array in arrays.items():
            getattr(self.data, name)[idx] = array
        self.pos = int((self.pos + len(rows)) % self.capacity)
        self.size = min(self.size + len(rows), self.capacity)

    def sample(self, rng: np.random.Generator, rows: int) -> Arrays:
        """``rows`` stored rows (instances with all their questions, say), drawn uniformly."""
        if self.data is None:
            raise RuntimeError("replay buffer is empty")
        return self.data.rows(rng.integers(0, self.size, size=rows))

    def stored(self) -> Arrays | None:
        """Everything stored (None if nothing is)."""
        return None if self.data is None else self.data.rows(slice(0, self.size))

    def state_dict(self) -> dict:
        stored = self.stored()
        arrays = None if stored is None else stored.arrays()
        return {"size": self.size, "pos": self.pos, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        self.size, self.pos, self.data = 0, 0, None
        if state["arrays"] is not None:
            self.add(self.kind(**state["arrays"]))
            self.pos = state["pos"]
