"""Held-out evaluation against ground truth, per difficulty level, and ``ida eval``'s report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import torch
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ida.core.errors import IdaError
from ida.domains.qa.adversary import Adversary, spearman
from ida.domains.qa.config import EvalWeights
from ida.domains.qa.experience import Experience
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.tasks.base import Task

if TYPE_CHECKING:
    from ida.domains.qa.job import QAJob


def heldout_set(
    task: Task, rng: np.random.Generator, per_level: int, per_instance: int = 8
) -> Experience:
    """``per_level`` questions at every level with true answers, at most ``per_instance`` about
    one instance (the most up to it that divides ``per_level``)."""
    per_instance = max(d for d in range(1, min(per_instance, per_level) + 1) if per_level % d == 0)
    n = per_level // per_instance
    insts = [task.sample_instance(rng) for _ in range(n * task.num_levels)]
    levels = np.repeat(np.arange(task.num_levels), n)[:, None].repeat(per_instance, axis=1)
    questions = [
        [task.sample_question(rng, inst, int(lv)) for lv in row]
        for inst, row in zip(insts, levels, strict=True)
    ]
    answers = [
        [task.solve(inst, q) for q in row] for inst, row in zip(insts, questions, strict=True)
    ]
    return Experience(
        facts=np.stack([inst.facts for inst in insts]),
        questions=np.asarray(questions, dtype=np.int64),
        targets=np.asarray(answers, dtype=np.int64),
        levels=levels,
    )


@torch.inference_mode()
def evaluate(
    model: QAModel,
    data: Experience,
    device: torch.device,
    batch_instances: int = 256,
    adversary: Adversary | None = None,
) -> dict[str, object]:
    """``accuracy`` (the mean over levels: every difficulty counts alike), ``accuracy_by_level``.

    With an ``adversary``, also how well it ranks the model's answers by their true loss (the
    cross-entropy at the true answer): ``adversary_spearman`` is the Spearman correlation of
    -Adv with it, ``entropy_spearman`` that of the model's own uncertainty (its entropy)."""
    correct = np.zeros(data.targets.shape, dtype=bool)
    loss, entropy, adv = (np.zeros(data.targets.shape) for _ in range(3))
    for start in range(0, len(data), batch_instances):
        rows = slice(start, start + batch_instances)
        part = data.rows(rows)
        b = part.batch(device)
        logits = model(b.facts, b.questions, b.instance)
        answers = logits.argmax(-1)
        correct[rows] = (answers == b.targets).view(part.targets.shape).cpu().numpy()
        if adversary is not None:
            logp = torch.log_softmax(logits.float(), -1)
            shape = part.targets.shape
            loss[rows] = -logp.gather(1, b.targets[:, None]).view(shape).cpu().numpy()
            entropy[rows] = -(logp.exp() * logp).sum(-1).view(shape).cpu().numpy()
            adv[rows] = adversary.score(b, answers).view(shape).cpu().numpy()
    levels = int(data.levels.max()) + 1
    by_level = [float(correct[data.levels == lv].mean()) for lv in range(levels)]
    result: dict[str, object] = {
        "accuracy": float(np.mean(by_level)),
        "accuracy_by_level": by_level,
    }
    if adversary is not None:
        result["adversary_spearman"] = spearman(-adv.ravel(), loss.ravel())
        result["entropy_spearman"] = spearman(entropy.ravel(), loss.ravel())
    return result


def evaluate_run(
    job: QAJob, seed: int, per_level: int, weights: str | None
) -> tuple[dict[str, Any], Group]:
    """Accuracy per difficulty on ``per_level`` fresh questions a level, and a table of it."""
    if per_level < 8:
        raise IdaError("--per-level must be at least 8")
    if weights not in (None, *get_args(EvalWeights)):
        choices = " or ".join(map(repr, get_args(EvalWeights)))
        raise IdaError(f"--weights must be {choices}, not {weights!r}")
    weights = weights or job.cfg.eval_weights
    data = heldout_set(job.task, np.random.default_rng([seed, 2]), per_level)
    result = {
        "task": job.task.name,
        "mode": job.cfg.mode,
        "size": job.task.size,
        "step": job.loop.step,
        "weights": weights,
        **job.evaluate(data, weights),
    }
    table = Table(
        title=f"{job.task.name} ({job.cfg.mode}), step {job.loop.step}, {weights} weights"
    )
    table.add_column("level", justify="right")
    table.add_column("accuracy", justify="right")
    for lv, acc in enumerate(result["accuracy_by_level"]):
        table.add_row(str(lv), f"{acc:.3f}")
    table.add_row("all", f"[bold]{result['accuracy']:.3f}[/bold]")
    parts: list[Any] = [table]
    if "adversary_spearman" in result:
        parts.append(
            Text(
                f"Spearman correlation with the true loss: adversary "
                f"{result['adversary_spearman']:.3f}, model entropy "
                f"{result['entropy_spearman']:.3f}"
            )
        )
    return result, Group(*parts)
