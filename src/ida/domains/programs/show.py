"""``ida show`` for a programs run: one search on a fresh held-out task, every edit it simulated
in order, with what the policy, the forward model and the similarity metric made of it, and
the program found."""

from __future__ import annotations

import json

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ida.domains.programs.amplify import problem_of, solve
from ida.domains.programs.search import INVALID, REPEAT
from ida.domains.programs.tasks import held_out_set

SHOWN = 60  # edits listed (the path's are always listed)
OUTCOME = {INVALID: "invalid", REPEAT: "repeat"}


def render(job, seed: int = 0, level: int | None = None):
    language = job.language
    length = level or max(job.cfg.eval.lengths[:2])
    (task,) = held_out_set(language, [length], 1, seed)
    problem = problem_of(language, task)
    (found,), _ = solve(
        language, job.distiller.teacher, [task], job.cfg.search, job.cfg.eval.budget, job.device
    )
    head = Text()
    head.append(f"a held-out task of length {length} (seed {seed}); example 1: ", style="bold")
    first = task.examples[0]
    head.append(f"{json.dumps(list(first.inputs))} -> {json.dumps(first.output)}\n")
    head.append("generator's program: ", style="dim")
    head.append(language.format(task.program, inline=True) + "\n", style="dim")
    goals = ", ".join(
        f"{language.ops[g.finish].name} of it" for g in found.goals[1:] if g.finish is not None
    )
    if goals:
        head.append(f"sub-goals (values that an op turns into the outputs): {goals}\n", style="dim")
    on_path = {id(n) for n in found.path}
    table = Table(
        title=f"edits simulated ({found.calls:,} calls; forward model skipped {found.skipped:,})"
    )
    for name in (
        "#",
        "goal",
        "program so far",
        "edit",
        "log p",
        "p(new)",
        "value",
        "gives (example 1)",
    ):
        table.add_column(
            name, justify="right" if name in ("#", "log p", "p(new)", "value") else "left"
        )
    for i, t in enumerate(found.tried):
        path = t.child is not None and id(t.child) in on_path
        if i >= SHOWN and not path:
            continue
        node, edit = t.node, t.node.statement(t.rank)
        names = language.format(node.program.then(edit), inline=True).split("; ")
        gives = OUTCOME.get(t.outcome)
        if gives is None:
            gives = (
                json.dumps(language.from_values(t.child.env[-1].rows(slice(0, 1)))[0])
                if t.child
                else "(state seen)"
            )
        table.add_row(
            str(i + 1),
            "outputs" if node.goal == 0 else f"sub-goal {node.goal}",
            "; ".join(names[len(problem.inputs) : -1]) or "(inputs)",
            names[-1],
            f"{node.advice.logp[t.rank]:.2f}",
            f"{node.advice.new[t.rank]:.2f}",
            f"{node.advice.value:.2f}",
            gives,
            style="bold green" if path else None,
        )
    tail = Text()
    if found.program is None:
        tail.append(f"no program found within {job.cfg.eval.budget:,} calls", style="bold red")
    else:
        tail.append("found: ", style="bold green")
        tail.append(language.format(found.program, inline=True))
        from ida.domains.programs.tasks import fits

        tail.append(
            f"  (fits the held-out examples: {fits(language, found.program, task.held_out)})"
        )
    return Group(head, table, tail)
