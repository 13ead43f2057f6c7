"""Distill for games: the policy-value net learns from self-play positions.

The policy imitates the search's visit counts (cross-entropy over the legal moves: seed 001's
distillation, the net learning to shortcut the search); the value regresses on the game's
outcome (mean squared error: an RL signal from the result, seed 004's mix of imitation and
reinforcement). Positions come from a replay window over the most recent self-play, each drawn
under a random symmetry of the board where the game has any.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ida.core.learner import Learner
from ida.core.replay import ReplayBuffer
from ida.domains.games.selfplay import Positions
from ida.domains.games.symmetry import Symmetry


def augment(rows: Positions, syms: list[Symmetry], rng: np.random.Generator) -> Positions:
    """Each row under one symmetry drawn uniformly (the identity included)."""
    if not syms:
        return rows
    pick = rng.integers(0, len(syms) + 1, size=len(rows))
    boards, legal, policy = rows.boards.copy(), rows.legal.copy(), rows.policy.copy()
    for k, sym in enumerate(syms, start=1):
        idx = np.flatnonzero(pick == k)
        if len(idx):
            boards[idx] = sym.boards(rows.boards[idx])
            legal[idx] = sym.actions(rows.legal[idx])
            policy[idx] = sym.actions(rows.policy[idx])
    return Positions(boards, legal, policy, rows.outcome)


def losses(net: nn.Module, rows: Positions, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy cross-entropy against the search (over legal moves) and value squared error."""
    boards = torch.from_numpy(rows.boards).to(device)
    legal = torch.from_numpy(rows.legal).to(device)
    target = torch.from_numpy(rows.policy).to(device)
    logits, value = net(boards)
    logp = F.log_softmax(logits.masked_fill(~legal, -1e9), dim=-1)
    policy_loss = -(target * logp).sum(-1).mean()
    value_loss = F.mse_loss(value, torch.from_numpy(rows.outcome).to(device))
    return policy_loss, value_loss


class PolicyValueDistiller:
    """Trains the net on batches from the replay window; the teacher the search uses is the
    net itself (AlphaZero plays with its latest weights) unless ``ema`` is set."""

    def __init__(
        self,
        net: nn.Module,
        learner: Learner,
        window: int,
        batch_size: int,
        syms: list[Symmetry],
        device,
    ):
        self.net, self.learner = net, learner
        self.replay = ReplayBuffer(window, Positions)
        self.batch_size, self.syms, self.device = batch_size, syms, device

    @property
    def teacher(self) -> nn.Module:
        return self.learner.teacher if self.learner.teacher is not None else self.net

    def add(self, experience: Positions) -> None:
        self.replay.add(experience)

    def step(self, rng: np.random.Generator) -> dict[str, float]:
        self.net.train()
        rows = augment(self.replay.sample(rng, self.batch_size), self.syms, rng)
        policy_loss, value_loss = losses(self.net, rows, self.device)
        loss = self.learner.step(policy_loss + value_loss)
        return {
            "loss": loss,
            "policy_loss": round(policy_loss.item(), 4),
            "value_loss": round(value_loss.item(), 4),
        }

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "replay": self.replay.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])
        self.replay.load_state_dict(state["replay"])
