"""Render one amplification tree in the terminal: each question, who answered, and if rightly."""

from __future__ import annotations

import numpy as np
import torch
from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ida.amplify.decompose import Decomposition
from ida.engine import Engine
from ida.errors import IdaError
from ida.models.qa import BatchedAnswerer
from ida.overseers import make_overseer
from ida.runs.build import Job
from ida.tasks.base import Instance, Task
from ida.trace import MODEL, Node

STYLE = {"overseer": "bold cyan", "lookup": "green", "model": "magenta"}


def render_tree(job: Job, level: int | None, seed: int, facts: bool = False) -> Group:
    """Amplify(H, A) on one fresh question with the run's model; a rich renderable."""
    task = job.task
    level = task.num_levels - 1 if level is None else level
    if not 0 <= level < task.num_levels:
        raise IdaError(f"--level must be from 0 to {task.num_levels - 1} for {task.name}")
    rng = np.random.default_rng([seed, 3])
    inst = task.sample_instance(rng)
    question = task.sample_question(rng, inst, level)
    answerer = BatchedAnswerer(job.model, torch.from_numpy(inst.facts[None]).to(job.device))
    overseer = make_overseer(
        task, job.cfg.overseer, job.cfg.bias_rate, job.cfg.noise_rate
    )  # the run's H
    decomposition = Decomposition(task, Engine(), job.cfg.depth, overseer)
    root = decomposition.run([inst], [(0, question)], answerer)[0]
    direct = answerer([(0, question)])[0]
    tree = Tree(_label(task, inst, root))
    _grow(tree, task, inst, root)
    costs = root.costs()
    truth = task.solve(inst, question)
    lines = [
        Text(f"{task.name} (size {task.size}), level {level}, step {job.loop.step}", style="bold"),
        tree,
        Text(
            f"overseer calls {costs['overseer'] + costs['lookup']}, model calls {costs[MODEL]}; "
            f"the model alone answers {task.format_answer(direct)} "
            f"({'correct' if direct == truth else 'wrong'}; "
            f"true answer {task.format_answer(truth)})"
        ),
    ]
    if facts:
        fact_lines = [task.format_fact(f) for f in inst.facts if f.any()]
        lines.insert(1, Text("facts: " + "; ".join(fact_lines), style="dim"))
    return Group(*lines)


def _label(task: Task, inst: Instance, node: Node) -> Text:
    truth = task.solve(inst, node.question)
    ok = node.answer == truth
    text = Text()
    text.append(f"{task.format_question(node.question)} = {task.format_answer(node.answer)}  ")
    text.append(f"[{node.by}]", style=STYLE.get(node.by, ""))
    text.append(
        "  ✓" if ok else f"  ✗ (true {task.format_answer(truth)})",
        style="green" if ok else "bold red",
    )
    return text


def _grow(branch: Tree, task: Task, inst: Instance, node: Node) -> None:
    for child in node.children:
        _grow(branch.add(_label(task, inst, child)), task, inst, child)
