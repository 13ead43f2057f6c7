"""Render one amplification tree in the terminal: each question, who answered, and if rightly."""

from __future__ import annotations

import numpy as np
import torch
from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ida.core.errors import IdaError
from ida.domains.qa.audit import inspection_order, score_nodes, unfold
from ida.domains.qa.job import QAJob
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.tasks.base import Instance, Question, Task, speaks_weak_hch
from ida.domains.qa.trace import LEARNED, LOOKUP, MODEL, OVERSEER, Node, overseer_calls

STYLE = {OVERSEER: "bold cyan", LOOKUP: "green", MODEL: "magenta", LEARNED: "yellow"}


def fresh_question(task: Task, level: int | None, seed: int) -> tuple[Instance, Question, int]:
    """A fresh instance and question at ``level`` (default: the hardest), checked."""
    level = task.num_levels - 1 if level is None else level
    if not 0 <= level < task.num_levels:
        raise IdaError(f"--level must be from 0 to {task.num_levels - 1} for {task.name}")
    rng = np.random.default_rng([seed, 3])
    inst = task.sample_instance(rng)
    return inst, task.sample_question(rng, inst, level), level


def render_tree(job: QAJob, level: int | None, seed: int, facts: bool = False) -> Group:
    """Amplify(H, A) on one fresh question with the run's model; a rich renderable."""
    task = job.task
    inst, question, level = fresh_question(task, level, seed)
    answerer = BatchedAnswerer(job.answerer, torch.from_numpy(inst.facts[None]).to(job.device))
    root = job.loop.amplifier.explain(inst, question, answerer, np.random.default_rng([seed, 4]))
    direct = answerer([(0, question)])[0]
    tree = Tree(_label(task, inst, root))
    _grow(tree, task, inst, root)
    costs = root.costs()
    truth = task.solve(inst, question)
    lines = [
        Text(f"{task.name} (size {task.size}), level {level}, step {job.loop.step}", style="bold"),
        tree,
        Text(
            f"overseer calls {overseer_calls(costs)}, H' calls {costs[LEARNED]}, "
            f"model calls {costs[MODEL]}; "
            f"the model alone answers {task.format_answer(direct)} "
            f"({'correct' if direct == truth else 'wrong'}; "
            f"true answer {task.format_answer(truth)})"
        ),
    ]
    if facts:
        fact_lines = [task.format_fact(f) for f in inst.facts if f.any()]
        lines.insert(1, Text("facts: " + "; ".join(fact_lines), style="dim"))
    return Group(*lines)


def _truth(task: Task, inst: Instance, question: Question) -> int | None:
    """The exact answer, or None for a malformed question (a learned H' may ask one)."""
    try:
        return task.solve(inst, question)
    except (IndexError, KeyError, ValueError, StopIteration):
        return None


def _label(task: Task, inst: Instance, node: Node) -> Text:
    truth = _truth(task, inst, node.question)
    ok = node.answer == truth
    question = Task.format_question(task, node.question)  # raw tokens, if it is malformed
    if truth is not None:
        question = task.format_question(node.question)
    text = Text()
    text.append(f"{question} = {task.format_answer(node.answer)}  ")
    text.append(f"[{node.by}]", style=STYLE.get(node.by, ""))
    if node.score is not None:  # adversarial runs: the score that sent it to H, or not
        guess = "" if node.by == MODEL else f", model said {task.format_answer(node.guess)}"
        text.append(f"  (score {node.score:.2f}{guess})", style="dim")
    if truth is None:
        text.append("  ✗ (not a well-formed question)", style="bold red")
    else:
        text.append(
            "  ✓" if ok else f"  ✗ (true {task.format_answer(truth)})",
            style="green" if ok else "bold red",
        )
    return text


def _grow(branch: Tree, task: Task, inst: Instance, node: Node) -> None:
    for child in node.children:
        _grow(branch.add(_label(task, inst, child)), task, inst, child)


def render_audit(job: QAJob, level: int | None, seed: int, limit: int, order: str) -> Group:
    """The model's own tree for a fresh question, its nodes in inspection order."""
    task = job.task
    if not speaks_weak_hch(task):
        raise IdaError(f"{task.name}: auditing unfolds H's fan-out/fan-in, which it lacks")
    inst, question, level = fresh_question(task, level, seed)
    answerer = BatchedAnswerer(job.answerer, torch.from_numpy(inst.facts[None]).to(job.device))
    (root,) = unfold(task, [inst], [(0, question)], answerer)
    used = score_nodes(job, [inst], [root], [0])
    nodes = inspection_order(root, lambda n: n.score, order)
    table = Table(title=f"{task.name}: the model's tree, {order} order ({used} scores)")
    for col in ("#", "score", "depth", "node", "consistent", "true answer"):
        table.add_column(col, justify="right" if col in ("#", "score", "depth") else "left")
    first_wrong = None
    for rank, node in enumerate(nodes, 1):
        truth = task.solve(inst, node.question)
        if node.answer != truth and first_wrong is None:
            first_wrong = rank
        if rank > limit:
            continue
        ok = node.answer == truth
        table.add_row(
            str(rank),
            f"{node.score:.3f}",
            str(node.depth),
            f"{task.format_question(node.question)} = {task.format_answer(node.answer)}",
            "-" if node.guess is None else ("yes" if node.guess == node.answer else "no"),
            Text("✓" if ok else f"✗ {task.format_answer(truth)}", style="green" if ok else "red"),
        )
    found = f"first wrong node at inspection {first_wrong}" if first_wrong else "no wrong node"
    return Group(table, Text(f"{len(nodes)} nodes; {found}"))
