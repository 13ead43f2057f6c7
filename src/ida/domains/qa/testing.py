"""What the tests of question decomposition share: oracles that answer every subquestion
exactly, tiny model shapes and rounds, and a short fit. Used by the test suite (and handy in a
notebook); never by training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ida.core.curriculum import Curriculum
from ida.core.engine import Engine
from ida.domains.qa.models.transformer import ModelSettings, ModelShape
from ida.domains.qa.tasks.base import Instance, Question, Task


class OracleAsk:
    """An ``ask`` that answers every subquestion exactly: H given true subanswers."""

    def __init__(self, task: Task, inst: Instance):
        self.task, self.inst, self.asked = task, inst, []

    async def __call__(self, question: Question) -> int:
        return (await self.all([question]))[0]

    async def all(self, questions: Sequence[Question]) -> list[int]:
        self.asked.extend(questions)
        return [self.task.solve(self.inst, q) for q in questions]


def run_sync(coro: Any) -> Any:
    """Run a coroutine that never suspends (e.g. an overseer driven by ``OracleAsk``)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("coroutine suspended; run it in the engine instead")


def oracle_answer(task: Task, inst: Instance, question: Question) -> tuple[int, list[Question]]:
    """H's answer to ``question`` when every subquestion is answered exactly, and what it asked."""
    ask = OracleAsk(task, inst)
    return run_sync(task.overseer(inst, question, ask)), ask.asked


def small_shape(task) -> ModelShape:
    """A tiny model shape for ``task``: d_model 32, 2 heads, 1 + 1 layers."""
    settings = ModelSettings(d_model=32, n_heads=2, enc_layers=1, dec_layers=1)
    return ModelShape(task.vocab_size, task.answer_size, task.fact_len, task.question_len, settings)


def fit(module, loss, steps: int = 60, lr: float = 3e-3) -> None:
    """``steps`` of Adam on ``loss()``, a closure over a fixed set."""
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    for _ in range(steps):
        value = loss()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()


def small_round(task, instances: int = 4, per_instance: int = 8) -> dict:
    """The arguments every amplifier takes, for a small round on the CPU: the curriculum as
    ``curriculum``, then sizes, device and a fresh engine."""
    return dict(
        curriculum=Curriculum(task.num_levels),
        instances=instances,
        per_instance=per_instance,
        device=torch.device("cpu"),
        engine=Engine(),
    )
