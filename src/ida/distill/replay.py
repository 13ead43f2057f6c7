"""Experience (questions with training targets) and the replay buffer distillation samples from.

Experience is stored instance-major, ``questions_per_instance`` questions per instance, so a
training batch encodes each sampled instance's facts once for all of its questions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

UNJUDGED = -1  # the target of a question no overseer looked at (its scores are NaN)


@dataclass
class Batch:
    """A training batch as tensors: question b is about instance ``instance[b]``."""

    facts: torch.Tensor  # [I, F, fact_len]
    questions: torch.Tensor  # [B, question_len]
    instance: torch.Tensor  # [B]
    targets: torch.Tensor  # [B], UNJUDGED where no overseer answered
    scores: torch.Tensor | None  # [B, answer_size] approval of every answer, NaN rows unjudged

    @property
    def judged(self) -> torch.Tensor:
        return self.targets != UNJUDGED


class Arrays:
    """A dataclass of numpy arrays that share their first axis (rows)."""

    def __len__(self) -> int:
        return len(next(iter(self.arrays().values())))

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields that are present, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def rows(self, index):
        """The rows ``index`` (an int array or a slice), of every field."""
        return type(self)(**{k: a[index] for k, a in self.arrays().items()})

    @classmethod
    def cat(cls, parts: list):
        """The rows of ``parts``, one after another."""
        names = parts[0].arrays()
        return cls(**{k: np.concatenate([p.arrays()[k] for p in parts]) for k in names})


@dataclass
class Experience(Arrays):
    """A round of targets: facts [I, F, L], questions [I, Q, qlen], targets and levels [I, Q],
    and optionally ``scores`` [I, Q, answer_size]: the overseer's approval of every answer."""

    facts: np.ndarray
    questions: np.ndarray
    targets: np.ndarray
    levels: np.ndarray
    scores: np.ndarray | None = None

    def batch(self, device: torch.device | str = "cpu") -> Batch:
        n, q = self.targets.shape
        scores = None
        if self.scores is not None:
            scores = torch.from_numpy(self.scores.reshape(n * q, -1)).to(device)
        return Batch(
            facts=torch.from_numpy(self.facts).to(device),
            questions=torch.from_numpy(self.questions.reshape(n * q, -1)).to(device),
            instance=torch.arange(n, device=device).repeat_interleave(q),
            targets=torch.from_numpy(self.targets.reshape(-1)).to(device),
            scores=scores,
        )


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` rows of ``Arrays`` (instances' experience, say)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.size = 0
        self.pos = 0
        self.data: Arrays | None = None

    def add(self, exp: Arrays) -> None:
        arrays = exp.arrays()
        if self.data is None:
            self.data = type(exp)(
                **{
                    k: np.zeros((self.capacity, *a.shape[1:]), dtype=a.dtype)
                    for k, a in arrays.items()
                }
            )
        idx = (self.pos + np.arange(len(exp))) % self.capacity
        for name, array in arrays.items():
            getattr(self.data, name)[idx] = array
        self.pos = int((self.pos + len(exp)) % self.capacity)
        self.size = min(self.size + len(exp), self.capacity)

    def sample(self, rng: np.random.Generator, instances: int):
        """``instances`` stored rows (instances, with all of their questions), drawn uniformly."""
        if self.data is None:
            raise RuntimeError("replay buffer is empty")
        return self.data.rows(rng.integers(0, self.size, size=instances))

    def stored(self):
        """Everything stored (None if nothing is)."""
        return None if self.data is None else self.data.rows(slice(0, self.size))

    def state_dict(self) -> dict:
        stored = self.stored()
        arrays = None if stored is None else stored.arrays()
        return {"size": self.size, "pos": self.pos, "arrays": arrays}

    def load_state_dict(self, state: dict, kind: type[Arrays] = Experience) -> None:
        self.size, self.pos, self.data = 0, 0, None
        if state["arrays"] is not None:
            self.add(kind(**state["arrays"]))
            self.pos = state["pos"]
