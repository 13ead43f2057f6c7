"""The yardstick of a programs run: held-out tasks of fixed lengths (from programs the training
generator never draws), each searched within a budget of simulator calls; the share solved per
length, and the share of found programs that also fit the two held-out examples the search
never saw (a program can fit the shown examples by accident)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch

from ida.domains.programs.amplify import solve
from ida.domains.programs.deepcoder import DEEPCODER
from ida.domains.programs.language import Language
from ida.domains.programs.net import EditNet
from ida.domains.programs.search import Found, SearchSettings
from ida.domains.programs.tasks import Task, fits, held_out_set


@cache
def held_out(lengths: tuple[int, ...], per_length: int, seed: int) -> tuple[Task, ...]:
    """The fixed held-out tasks (the same for every run with these settings)."""
    return tuple(held_out_set(DEEPCODER, list(lengths), per_length, seed))


def summarize(language: Language, tasks: list[Task], founds: list[Found], lengths: list[int]):
    """Solved share per length, their mean (``accuracy``), and the held-out check."""
    length = np.array([t.length for t in tasks])
    solved = np.array([f.program is not None for f in founds])
    by_length = [float(solved[length == n].mean()) if (length == n).any() else 0.0 for n in lengths]
    found = [(t, f) for t, f in zip(tasks, founds, strict=True) if f.program is not None]
    fit = [fits(language, f.program, t.held_out) for t, f in found]
    calls = [f.calls for _, f in found]
    out: dict[str, Any] = {
        "accuracy": round(float(np.mean(by_length)), 4),
        "accuracy_by_level": [round(x, 4) for x in by_length],
        **{f"solved_T{n}": round(x, 4) for n, x in zip(lengths, by_length, strict=True)},
        "fits_held_out": round(float(np.mean(fit)), 4) if fit else 0.0,
        "calls_per_solved": round(float(np.mean(calls)), 1) if calls else 0.0,
    }
    return out


def yardstick(
    net: EditNet,
    s: SearchSettings,
    lengths: list[int],
    per_length: int,
    budget: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Search every held-out task within ``budget`` calls with ``net`` guiding."""
    tasks = list(held_out(tuple(lengths), per_length, seed))
    founds, _ = solve(DEEPCODER, net, tasks, s, budget, device, keep=False)
    return summarize(DEEPCODER, tasks, founds, lengths)
