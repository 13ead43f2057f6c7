"""One task at a time, as ``ida solve`` and the timed benchmarks run them: the search alone in
its engine, so its seconds are its own."""

from __future__ import annotations

from typing import Any

from ida.domains.programs.amplify import solve
from ida.domains.programs.tasks import Task, fits


def solve_one(job, task: Task, budget: int, seconds: float) -> dict[str, Any]:
    """The program a run's search finds for ``task`` (in the DSL's inline syntax, or None),
    its calls and seconds, and whether it fits the held-out examples (None: there are none)."""
    language = job.language
    (found,), _ = solve(
        language,
        job.distiller.teacher,
        [task],
        job.cfg.search,
        budget,
        job.device,
        seconds,
        keep=False,
    )
    program = found.program
    held = None if program is None or not task.held_out else fits(language, program, task.held_out)
    return {
        "program": None if program is None else language.format(program, inline=True),
        "calls": found.calls,
        "seconds": round(found.seconds, 3),
        "fits_held_out": held,
    }
