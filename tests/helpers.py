"""Small helpers shared by the tests."""

import torch

from ida.core.curriculum import Curriculum
from ida.core.engine import Engine
from ida.domains.qa.models.transformer import ModelShape


def small_shape(task) -> ModelShape:
    """A tiny model shape for ``task``: d_model 32, 2 heads, 1 + 1 layers."""
    return ModelShape(
        task.vocab_size, task.answer_size, task.fact_len, task.question_len, 32, 2, 1, 1
    )


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
