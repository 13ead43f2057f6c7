"""The README's smallest complete task works with the whole framework."""

import importlib.util
from pathlib import Path

import numpy as np
from rich.console import Console

from ida.core.runs.run import train
from ida.domains.qa.config import qa_config
from ida.domains.qa.tasks import get_task
from ida.domains.qa.testing import oracle_answer

EXAMPLE = Path(__file__).parents[4] / "examples" / "range_sum.py"


def load_example():
    spec = importlib.util.spec_from_file_location("range_sum", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_task_decomposes_correctly_and_trains(tmp_path):
    load_example()
    task = get_task("range_sum", 8)
    rng = np.random.default_rng(0)
    for _ in range(500):
        inst = task.sample_instance(rng)
        level = int(rng.integers(task.num_levels))
        q = task.sample_question(rng, inst, level)
        assert task.level_of(inst, q) == level
        assert oracle_answer(task, inst, q)[0] == task.solve(inst, q)
    cfg = qa_config(
        task="range_sum",
        size=8,
        steps=3,
        eval_every=3,
        model={"d_model": 16, "n_heads": 2},
        eval_per_level=8,
        device="cpu",
    )
    assert train(cfg, tmp_path / "run", console=Console(quiet=True))["steps"] == 3
