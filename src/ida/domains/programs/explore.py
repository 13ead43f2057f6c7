"""Exploring rollouts: random programs run from a task's inputs beside its search, distilled in
hindsight for their own outputs.

Hindsight on the search's own programs teaches the policy little about other tasks: a search
runs the programs its policy already ranks high. A rollout draws a program as the task generator
does (``draw_program``, over the task's own inputs and examples) and runs it in the simulator,
one call a statement, counted as every call is: a program the policy need not have tried,
and a solved task for its own output.
"""

from __future__ import annotations

import hashlib
import json
import random

from ida.core.engine import BatchFn, Call
from ida.domains.programs.language import Language, Program
from ida.domains.programs.search import NEW, Node, Problem, outcome_of
from ida.domains.programs.tasks import Task, draw_program


def seed_of(task: Task) -> int:
    """A seed from the task's shown examples (the same in every process and on resume)."""
    text = json.dumps([[list(e.inputs), e.output] for e in task.examples], default=list)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


async def rollouts(
    problem: Problem, language: Language, simulate: BatchFn, n: int, length: int, seed: int
) -> list[Node]:
    """The last states of ``n`` random programs of ``length`` statements over ``problem``'s
    inputs that ran to the end (valid on every example, each statement a new value), each
    linked to its parents; drawn programs with dead code are not run."""
    r = random.Random(seed)
    types = tuple(v.type for v in problem.inputs)
    drawn = [draw_program(language, types, length, r) for _ in range(n)]
    drawn = [p for p in drawn if p is not None and all(p.used())]
    ends = [Node(Program(types, ()), list(problem.inputs), 0) for _ in drawn]
    for k in range(length):
        if not ends:
            break
        items = [(node.env, p.statements[k]) for node, p in zip(ends, drawn, strict=True)]
        values = await Call(simulate, items)
        kept = [
            (Node(node.program.then(p.statements[k]), [*node.env, v], 0, parent=node), p)
            for node, p, v in zip(ends, drawn, values, strict=True)
            if outcome_of(v, node.env) == NEW
        ]
        ends, drawn = [c for c, _ in kept], [p for _, p in kept]
    return ends
