"""Distill for programs: the net learns from the searches (expert iteration).

Three losses on rows of one kind, each weighted per row by what the row can teach:
- the **policy** imitates the edits of the programs the search found (cross-entropy of the op,
  then of each argument variable given the op);
- the **value** (similarity metric) learns which states lay on a found program's path (1) and
  which the search tried and left (0), a binary cross-entropy;
- the **forward model** learns what simulating an edit gave (invalid, a repeated value, a new
  one), from every simulated edit: the simulator labels them for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ida.core.learner import Learner
from ida.core.replay import ReplayBuffer
from ida.domains.programs.encode import StateArrays
from ida.domains.programs.net import EditNet, to_tensors


@dataclass
class EditRows(StateArrays):
    """States with an edit (``op``, ``args`` (n, 2), -1: none), what simulating it gave
    (``outcome``), the state's ``label`` (1: on a found path) and each loss's row weight."""

    op: np.ndarray = None
    args: np.ndarray = None
    outcome: np.ndarray = None
    label: np.ndarray = None
    w_policy: np.ndarray = None
    w_value: np.ndarray = None
    w_forward: np.ndarray = None


def _weighted(loss: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (loss * weight).sum() / weight.sum().clamp_min(1.0)


def losses(net: EditNet, rows: EditRows, device) -> dict[str, torch.Tensor]:
    """The three losses of a batch of rows."""
    b = to_tensors(rows, device)
    h, s = net.encode(b)
    op_lp, arg_lp = net.policy(h, s, b["kinds"])
    op, args = b["op"].long(), b["args"].long()
    n = torch.arange(len(op), device=h.device)
    first = arg_lp[n, args[:, 0].clamp_min(0), op, 0]
    second = torch.where(args[:, 1] >= 0, arg_lp[n, args[:, 1].clamp_min(0), op, 1], 0.0)
    edit_lp = (op_lp[n, op] + first + second).clamp_min(-30.0)
    outcome = F.cross_entropy(net.outcome(h, s, op, args), b["outcome"].long(), reduction="none")
    value = F.binary_cross_entropy_with_logits(net.value(s), b["label"], reduction="none")
    return {
        "policy_loss": _weighted(-edit_lp, b["w_policy"]),
        "value_loss": _weighted(value, b["w_value"]),
        "forward_loss": _weighted(outcome, b["w_forward"]),
    }


class EditDistiller:
    """Trains the net on batches from a replay window of the searches' rows; the searches use
    the net's latest weights (or an EMA teacher, with ``ema``)."""

    def __init__(self, net: EditNet, learner: Learner, window: int, batch_size: int, device):
        self.net, self.learner = net, learner
        self.replay = ReplayBuffer(window, EditRows)
        self.batch_size, self.device = batch_size, device

    @property
    def teacher(self) -> EditNet:
        return self.learner.teacher if self.learner.teacher is not None else self.net

    def add(self, experience: EditRows | None) -> None:
        if experience is not None and len(experience):
            self.replay.add(experience)

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        if self.replay.size == 0:  # nothing found yet: nothing to learn
            return {}
        self.net.train()
        parts = losses(self.net, self.replay.sample(rng, self.batch_size), self.device)
        loss = self.learner.step(sum(parts.values()))
        return {"loss": loss, **{k: round(v.item(), 4) for k, v in parts.items()}}

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "replay": self.replay.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])
        self.replay.load_state_dict(state["replay"])
