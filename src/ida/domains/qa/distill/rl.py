"""Distill by reinforcement on the amplified overseer's approval, instead of by imitation.

The amplified system M2 = Amplify(H, A) is asked "how good is answer X to question Y?"; every
round stores its approval of every answer (``Experience.scores``, or a learned ``ApprovalModel``
predicts it), and the model is trained to output answers M2 approves of:

* ``BestOfN`` (expert iteration, the seed's first update rule): X* starts as the model's own
  greedy answer; each of N sampled answers replaces X* if M2 approves of it strictly more; then
  a cross-entropy step towards X*.
* ``Reinforce``: sample K answers, ascend (approval - V(Y)) * grad log p(X), with a learned value
  baseline V. Answers here are one token, so log p(X) is one term of the per-token sum.
* ``mix`` > 0 (either of them): (1 - mix) * the RL loss + mix * the imitation loss, imitation
  and RL together as Deep Q-learning from Demonstrations mixes them (``mixed`` is REINFORCE so).

Both may first imitate for ``imitation_steps`` steps; the policy at the end of that phase is the
reference ("the imitation policy"), and ``kl`` * KL(pi || pi_ref) keeps RL from drifting far
from it. The divergence is reported as ``kl`` at every step.
"""

from __future__ import annotations

import copy
from abc import abstractmethod

import torch
from torch import nn
from torch.nn import functional as F

from ida.domains.qa.distill.approval import ApprovalModel
from ida.domains.qa.distill.base import Distiller
from ida.domains.qa.distill.imitation import imitation_loss
from ida.domains.qa.experience import Batch


def sample_answers(logits: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` answers per row [B, n], drawn from softmax(logits)."""
    return torch.multinomial(torch.softmax(logits.detach().float(), -1), n, replacement=True)


def best_of(candidates: torch.Tensor, approval: torch.Tensor) -> torch.Tensor:
    """Per row, the first candidate with the highest approval: candidate 0 is kept unless
    another is approved of strictly more."""
    return candidates.gather(1, approval.argmax(1, keepdim=True)).squeeze(1)


def reinforce_loss(
    logp: torch.Tensor, samples: torch.Tensor, rewards: torch.Tensor, baseline: torch.Tensor
) -> torch.Tensor:
    """The REINFORCE surrogate: minus the mean of (reward - baseline) * log p(sample)."""
    advantage = (rewards - baseline[:, None]).detach()
    return -(advantage * logp.gather(1, samples)).mean()


def kl_divergence(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """KL(p || p_ref) per row, exact over the answer vocabulary."""
    return (logp.exp() * (logp - logp_ref)).sum(-1)


class PolicyDistiller(Distiller):
    """Shared by the RL distillers: the imitation phase, the reference policy and its KL
    penalty, and where approval comes from (the overseer's scores, or a learned model)."""

    def __init__(
        self,
        *args,
        samples: int = 8,
        kl: float = 0.0,
        imitation_steps: int = 0,
        approval: ApprovalModel | None = None,
        mix: float = 0.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if samples < 1 or not 0.0 <= mix <= 1.0:
            raise ValueError("samples must be at least 1 and mix in [0, 1]")
        self.samples, self.kl, self.imitation_steps = samples, kl, imitation_steps
        self.mix = mix
        self.approval = self.add_head("approval", approval) if approval is not None else None
        self.reference: nn.Module | None = None

    @abstractmethod
    def policy_loss(
        self, logits: torch.Tensor, features: torch.Tensor, table: torch.Tensor, batch: Batch
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The RL loss on the rows that have an approval ``table`` [B', answer_size]."""

    def rewards(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(approval of every answer [B, A], which rows have one)."""
        if self.approval is not None:
            return self.approval.table(batch), torch.ones_like(batch.judged)
        return batch.scores, batch.judged

    def loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        metrics: dict[str, float] = {}
        extra = torch.zeros((), device=self.device)
        if self.approval is not None:
            extra = self.approval.loss(batch)
            metrics["approval_loss"] = extra.item()
        if self.steps < self.imitation_steps:
            logits = self.model(batch.facts, batch.questions, batch.instance)
            return imitation_loss(logits, batch) + extra, logits, metrics
        if self.reference is None:  # the imitation policy, frozen where RL begins
            self.reference = copy.deepcopy(self.model).requires_grad_(False)
        logits, features = self.model.logits_and_features(
            batch.facts, batch.questions, batch.instance
        )
        table, rows = self.rewards(batch)
        loss, rl_metrics = self.policy_loss(logits[rows], features[rows], table[rows], batch)
        if self.mix > 0:
            loss = (1 - self.mix) * loss + self.mix * imitation_loss(logits, batch)
        with torch.no_grad():
            logp_ref = F.log_softmax(
                self.reference(batch.facts, batch.questions, batch.instance), -1
            )
        kl = kl_divergence(F.log_softmax(logits, -1), logp_ref).mean()
        metrics.update(rl_metrics, kl=kl.item())
        return loss + self.kl * kl + extra, logits, metrics

    def state_dict(self) -> dict:
        reference = self.reference.state_dict() if self.reference is not None else None
        return {**super().state_dict(), "reference": reference}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.reference = None
        if state.get("reference") is not None:
            self.reference = copy.deepcopy(self.model).requires_grad_(False)
            self.reference.load_state_dict(state["reference"])


class BestOfN(PolicyDistiller):
    """Expert iteration: imitate the most approved of the greedy answer and N samples."""

    def policy_loss(self, logits, features, table, batch):
        greedy = logits.detach().argmax(-1, keepdim=True)
        candidates = torch.cat([greedy, sample_answers(logits, self.samples)], 1)
        approval = table.gather(1, candidates)
        best = best_of(candidates, approval)
        metrics = {
            "approval": approval.max(1).values.mean().item(),
            "greedy_approval": approval[:, 0].mean().item(),
        }
        return F.cross_entropy(logits, best), metrics


class Reinforce(PolicyDistiller):
    """REINFORCE with a learned value baseline (trained on detached features)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        d = self.model.shape.d_model
        self.value = self.add_head(
            "value", nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1))
        )

    def policy_loss(self, logits, features, table, batch):
        logp = F.log_softmax(logits, -1)
        samples = sample_answers(logits, self.samples)
        rewards = table.gather(1, samples)
        value = self.value(features.detach()).squeeze(-1)
        value_loss = F.mse_loss(value, rewards.mean(1))
        loss = reinforce_loss(logp, samples, rewards, value) + value_loss
        return loss, {"approval": rewards.mean().item(), "value_loss": value_loss.item()}
