"""Which of a fan-out's subquestions go to H, given their scores (lower: more suspect): one by
the Gumbel-max trick over -score / T (the seed's rule), each independently with probability
sigmoid((tau - score) / alpha) (``per_subquestion``), one at random, or all."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SELECTS = ("adversary", "uncertainty", "random", "all")


@dataclass
class Selection:
    """Which of a fan-out's subquestions H answers, given their scores (lower: more suspect)."""

    select: str = "adversary"
    per_subquestion: bool = False
    temperature: float = 0.1
    tau: float = -0.5
    alpha: float = 0.1

    def __post_init__(self):
        if self.select not in SELECTS:
            raise ValueError(f"select must be one of {SELECTS}")
        if self.per_subquestion and not self.scored:
            raise ValueError("per_subquestion needs scores: select 'adversary' or 'uncertainty'")

    @property
    def scored(self) -> bool:
        return self.select in ("adversary", "uncertainty")

    def probabilities(self, scores: list[float] | None, n: int) -> np.ndarray:
        """P(subquestion i goes to H), for ``n`` subquestions with these scores."""
        if self.select == "all":
            return np.ones(n)
        if self.per_subquestion:
            z = (self.tau - np.asarray(scores, dtype=float)) / self.alpha
            return 0.5 * (1 + np.tanh(z / 2))  # sigmoid(z), without overflow
        if self.select == "random" or n == 1:
            return np.full(n, 1 / n)
        z = -np.asarray(scores, dtype=float) / self.temperature
        z = np.exp(z - z.max())
        return z / z.sum()

    def choose(self, scores: list[float] | None, n: int, rng: np.random.Generator) -> list[bool]:
        """Draw which subquestions go to H (the Gumbel-max trick for the one-of-n rules)."""
        if self.select == "all":
            return [True] * n
        if self.per_subquestion:
            return (rng.random(n) < self.probabilities(scores, n)).tolist()
        if self.select == "random" or n == 1:
            pick = int(rng.integers(n))
        else:
            noisy = -np.asarray(scores, dtype=float) / self.temperature + rng.gumbel(size=n)
            pick = int(np.argmax(noisy))
        return [i == pick for i in range(n)]
