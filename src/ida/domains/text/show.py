"""``ida show`` and ``ida eval`` for text runs: one amplification tree in English (who
answered what, and whether rightly), and accuracy by hops on fresh questions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ida.core.errors import IdaError
from ida.domains.text.amplify import FAILED, LOOKUP, MODEL, OVERSEER, Node, TextAmplifier
from ida.domains.text.data import Answerer, fact_rows, heldout_set, sample_query
from ida.domains.text.job import TextJob
from ida.domains.text.kb import HELD_OUT, TRAIN, World, sample_world, tell
from ida.domains.text.questions import answer_of, render
from ida.domains.text.script import ScriptedH

STYLE = {OVERSEER: "bold cyan", LOOKUP: "green", MODEL: "magenta", FAILED: "bold red"}
WHO = {OVERSEER: "H", LOOKUP: "H, from the facts", MODEL: "A", FAILED: "H gave up"}


def _label(world: World, node: Node) -> Text:
    text = Text(f"{node.question}  ")
    text.append(node.answer if node.answer is not None else "(no answer)", style="bold")
    text.append(f"  [{WHO[node.by]}]", style=STYLE[node.by])
    truth = answer_of(world, node.question)
    if node.failure is not None:
        text.append(f"  ({node.failure})", style="dim")
    if truth is None:
        text.append("  ✗ (not a question about these facts)", style="bold red")
    elif node.answer == truth:
        text.append("  ✓", style="green")
    else:
        text.append(f"  ✗ (true: {truth})", style="bold red")
    return text


def _grow(branch: Tree, world: World, node: Node) -> None:
    for child in node.children:
        _grow(branch.add(_label(world, child)), world, child)


def render_tree(
    job: TextJob, level: int | None = None, seed: int = 0, facts: bool = False, **_: Any
) -> Group:
    """Amplify(H, A) on one fresh question with the run's model (``level``: hops - 1,
    default the hardest)."""
    levels = job.cfg.max_hops
    level = levels - 1 if level is None else level
    if not 0 <= level < levels:
        raise IdaError(f"--level must be from 0 to {levels - 1} (hops - 1) for this run")
    rng = np.random.default_rng([seed, 3])
    world = sample_world(rng, job.cfg.people)
    sentences = tell(world, rng, TRAIN)
    question = render(sample_query(world, level + 1, rng), TRAIN, rng)
    tokens = torch.from_numpy(fact_rows(sentences, job.cfg.people)[None]).to(job.device)
    answerer = Answerer(job.answerer, tokens)
    amplifier = job.amplifier
    if job.overseer is None or job.cfg.overseer == "human":  # how IDA with the script asks A
        amplifier = TextAmplifier(ScriptedH(), job.curriculum, job.cfg.people, 1, 1, job.device)
    root = amplifier.explain(sentences, question, answerer)
    tree = Tree(_label(world, root))
    _grow(tree, world, root)
    direct = answerer([(0, question)])[0]
    truth = answer_of(world, question)
    calls = sum(node.by in (OVERSEER, LOOKUP, FAILED) for node in root.walk())
    models = sum(node.by == MODEL for node in root.walk())
    lines: list[Any] = [
        Text(
            f"{job.cfg.task} ({job.cfg.mode}), {level + 1} hops, step {job.loop.step}", style="bold"
        ),
        tree,
        Text(
            f"overseer steps {calls}, model calls {models}; the model alone says {direct!r} "
            f"({'correct' if direct == truth else 'wrong'}; true answer {truth!r})"
        ),
    ]
    if facts:
        lines.insert(1, Text("facts: " + " ".join(sentences), style="dim"))
    return Group(*lines)


def evaluate_run(
    job: TextJob, seed: int, per_level: int, weights: str | None = None, **_: Any
) -> tuple[dict[str, Any], Table]:
    """Accuracy by hops on ``per_level`` fresh questions a level, in the training templates
    and in the held-out ones (the EMA teacher's weights; ``weights`` means nothing here)."""
    if per_level < 8:
        raise IdaError("--per-level must be at least 8")
    held = dict(people=job.cfg.people, levels=job.cfg.max_hops, per_level=per_level)
    seen = heldout_set(**held, templates=TRAIN, rng=np.random.default_rng([seed, 5]))
    unseen = heldout_set(**held, templates=HELD_OUT, rng=np.random.default_rng([seed, 6]))
    found = job.evaluate(seen, unseen)
    result = {"task": job.cfg.task, "mode": job.cfg.mode, "step": job.loop.step, **found}
    table = Table(title=f"{job.cfg.task} ({job.cfg.mode}), step {job.loop.step}")
    for column in ("hops", "training templates", "held-out templates"):
        table.add_column(column, justify="right")
    pairs = zip(found["accuracy_by_level"], found["heldout_templates_by_level"], strict=True)
    for lv, (a, b) in enumerate(pairs):
        table.add_row(str(lv + 1), f"{a:.3f}", f"{b:.3f}")
    table.add_row(
        "all",
        f"[bold]{found['accuracy']:.3f}[/bold]",
        f"[bold]{found['heldout_templates']:.3f}[/bold]",
    )
    return result, table
