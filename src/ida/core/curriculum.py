"""A difficulty curriculum: train on the levels unlocked so far, unlock the next when ready.

The next level unlocks when the teacher's own answers agree with the training targets on the
current level often enough (``advance_at``, measured over at least ``min_samples`` questions):
only then are the subanswers that the next level's decompositions need trustworthy.
"""

from __future__ import annotations

import numpy as np


class Curriculum:
    """Tracks the highest unlocked level and samples question levels for training."""

    def __init__(
        self, num_levels: int, advance_at: float = 0.95, min_samples: int = 512, focus: float = 0.5
    ):
        self.num_levels, self.advance_at = num_levels, advance_at
        self.min_samples, self.focus = min_samples, focus
        self.level = 0
        self._agree = 0
        self._seen = 0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` levels: a ``focus`` share at the current level, the rest uniform over 0..level."""
        levels = rng.integers(0, self.level + 1, size=n)
        levels[rng.random(n) < self.focus] = self.level
        return levels

    def update(self, levels: np.ndarray, agree: np.ndarray) -> bool:
        """Record teacher/target agreement; returns True when a new level was unlocked."""
        at = levels == self.level
        self._agree += int(agree[at].sum())
        self._seen += int(at.sum())
        if self.level + 1 < self.num_levels and self._seen >= self.min_samples:
            ready = self._agree >= self.advance_at * self._seen
            self._agree = self._seen = 0
            if ready:
                self.level += 1
                return True
        return False

    def state_dict(self) -> dict:
        return {"level": self.level, "agree": self._agree, "seen": self._seen}

    def load_state_dict(self, state: dict) -> None:
        self.level, self._agree, self._seen = state["level"], state["agree"], state["seen"]
