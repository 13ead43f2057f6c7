"""A question-answering run's live objects: what it reports at each evaluation, its costs, and
everything a checkpoint keeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ida.core.curriculum import Curriculum
from ida.core.loop import Loop
from ida.core.runs.job import Job
from ida.domains.qa.adversary import Adversary
from ida.domains.qa.config import EvalWeights, QAConfig
from ida.domains.qa.evaluate import evaluate
from ida.domains.qa.experience import Experience
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer
from ida.domains.qa.tasks import Task
from ida.domains.qa.trace import LEARNED, MODEL, overseer_calls

SUMMARY_EXTRAS = (
    "kl",
    "approval_loss",
    "adversary_spearman",
    "entropy_spearman",
    "learned_accuracy",
    "h_share",
    "people_answers",
)


@dataclass
class QAJob(Job):
    """A run of one task: its model A, curriculum, loop and held-out questions."""

    cfg: QAConfig
    task: Task
    device: torch.device
    model: QAModel
    curriculum: Curriculum
    loop: Loop
    heldout: Experience
    rng: np.random.Generator

    def costs(self) -> dict[str, int]:
        """Cumulative calls to H (decompositions and lookups), to H', to the model, and labels."""
        total = Counter(self.loop.amplifier.counts)
        if self.loop.warm_start is not None:
            total.update(self.loop.warm_start.counts)
        return {
            "overseer_calls": overseer_calls(total),
            "learned_calls": total[LEARNED],
            "model_calls": total[MODEL],
            "labels": total["labels"],
        }

    @property
    def learned_overseer(self) -> LearnedOverseer | None:
        """H', the learned overseer, where the run has one."""
        return self.loop.amplifier.learned_overseer

    def learned_metrics(self) -> dict[str, Any]:
        """H''s held-out step accuracy per level and loss, and H's share of the last round."""
        h_prime = self.learned_overseer
        if h_prime is None:
            return {}
        metrics = {"learned_accuracy": h_prime.accuracy.tolist(), "learned_loss": h_prime.loss}
        share = getattr(self.loop.amplifier, "h_share", None)
        if share is not None:
            metrics["h_share"] = share
        desk = getattr(self.loop.amplifier, "desk", None)
        if desk is not None:  # people at the workbench are H
            metrics["people_answers"] = desk.people()
        return metrics

    @property
    def adversary(self) -> Adversary | None:
        return self.loop.distiller.critics.get("adversary")

    def weights(self, which: EvalWeights | None = None) -> QAModel:
        """A with the weights ``which`` (default: the run's ``eval_weights``): "ema", the teacher,
        a running average of the weights that amplification asks, steadier than "latest"."""
        if (which or self.cfg.eval_weights) == "latest":
            return self.model
        return self.loop.distiller.teacher

    @property
    def answerer(self) -> QAModel:
        """A as the run reports it (``eval_weights``)."""
        return self.weights()

    def evaluate(self, data: Experience | None = None, weights: EvalWeights | None = None) -> dict:
        """Held-out accuracy (on ``data``, default the run's held-out set) of A's ``weights``."""
        data = self.heldout if data is None else data
        return evaluate(self.weights(weights), data, self.device, adversary=self.adversary)

    def start(self) -> None:
        """Open the workbench's database, where people are H."""
        desk = getattr(self.loop.amplifier, "desk", None)
        if desk is not None:
            desk.open()

    def record(self) -> dict[str, Any]:
        return {"level": self.curriculum.level, **self.costs(), **self.learned_metrics()}

    def progress(self) -> str:
        return f"level {self.curriculum.level} {self.cost_text()}"

    def cost_text(self) -> str:
        costs = self.costs()
        if self.cfg.mode == "supervised":
            return f"labels {costs['labels']:,}"
        if self.cfg.overseer == "human":
            return f"calls to people {costs['overseer_calls']:,}"
        return f"H calls {costs['overseer_calls']:,}"

    def report(self, record: dict[str, Any]) -> str:
        by_level = " ".join(f"{a:.2f}" for a in record["accuracy_by_level"])
        line = (
            f"accuracy {record['accuracy']:.3f}  by level [{by_level}]  "
            f"curriculum level {record['level']}  {self.cost_text()}"
        )
        if "kl" in record:
            line += f"  kl {record['kl']:.3f}"
        if "learned_accuracy" in record:
            line += "  H' accuracy by level ["
            line += " ".join(f"{a:.2f}" for a in record["learned_accuracy"]) + "]"
        if "adversary_spearman" in record:
            line += (
                f"  adversary/entropy spearman {record['adversary_spearman']:.2f}"
                f"/{record['entropy_spearman']:.2f}"
            )
        return line

    def summary(self, last: dict[str, Any]) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "task": cfg.task,
            "mode": cfg.mode,
            "distill": cfg.distill,
            "overseer": cfg.overseer,
            "approval": cfg.approval,
            "size": self.task.size,
            "steps": self.loop.step,
            "accuracy": last["accuracy"],
            "accuracy_by_level": last["accuracy_by_level"],
            "level": self.curriculum.level,
            **self.costs(),
            "seed": cfg.seed,
            **{k: last[k] for k in SUMMARY_EXTRAS if k in last},
        }

    def state_dict(self) -> dict:
        loop = self.loop
        return {
            "step": loop.step,
            "config": self.cfg.model_dump(),
            "model": self.model.state_dict(),
            "distiller": loop.distiller.state_dict(),
            "curriculum": self.curriculum.state_dict(),
            "counts": dict(loop.amplifier.counts),
            "amplifier": loop.amplifier.state_dict(),
            "warm_counts": dict(loop.warm_start.counts) if loop.warm_start else {},
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        loop = self.loop
        loop.step = state["step"]
        self.model.load_state_dict(state["model"])
        loop.distiller.load_state_dict(state["distiller"])
        self.curriculum.load_state_dict(state["curriculum"])
        loop.amplifier.counts = Counter(state["counts"])
        loop.amplifier.load_state_dict(state["amplifier"])
        if loop.warm_start is not None:
            loop.warm_start.counts = Counter(state["warm_counts"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
