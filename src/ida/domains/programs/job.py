"""A programs run: expert iteration over program edits on the core loop. Each round, search
amplifies the teacher net (``ProgramSearch``: the simulator as H, the net as the search's
policy and world model), and the net distils what the searches found (``EditDistiller``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ida.core.device import resolve_device
from ida.core.learner import Learner
from ida.core.loop import Loop
from ida.core.runs.job import Job
from ida.core.runs.plots import plot_curves
from ida.domains.programs.amplify import ProgramSearch
from ida.domains.programs.config import ProgramsConfig
from ida.domains.programs.deepcoder import DEEPCODER
from ida.domains.programs.distill import EditDistiller
from ida.domains.programs.encode import op_slots
from ida.domains.programs.evaluate import yardstick
from ida.domains.programs.net import EditNet

COSTS = {"simulator_calls": "simulator calls (H)", "net_evals": "net evaluations (A)"}


def make_net(cfg: ProgramsConfig) -> EditNet:
    language = DEEPCODER
    slots = torch.from_numpy(op_slots(language))
    return EditNet(language.high - language.low + 2, language.max_len, slots, cfg.net)


class ProgramsJob(Job):
    def __init__(self, cfg: ProgramsConfig):
        self.cfg = cfg
        self.language = DEEPCODER
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.model = make_net(cfg).to(self.device)
        learner = Learner(self.model, cfg.lr, cfg.ema, weight_decay=cfg.weight_decay)
        self.distiller = EditDistiller(self.model, learner, cfg.window, cfg.batch_size, self.device)
        self.amplifier = ProgramSearch(
            self.language,
            cfg.search,
            cfg.tasks,
            cfg.budget,
            cfg.max_length,
            cfg.net.slots,
            cfg.advance_at,
            cfg.negatives,
            cfg.outcomes,
            cfg.hindsight,
            self.device,
            cfg.explore,
        )
        self.loop = Loop(
            self.amplifier, self.distiller, self.evaluate, amplify_every=cfg.steps_per_round
        )
        self.latest: dict[str, Any] = {}

    def evaluate(self) -> dict[str, Any]:
        started = time.perf_counter()
        e = self.cfg.eval
        result = yardstick(
            self.distiller.teacher,
            self.cfg.search,
            e.lengths,
            e.tasks,
            e.budget,
            e.seed,
            self.device,
        )
        self.latest = {**result, "eval_seconds": round(time.perf_counter() - started, 2)}
        return self.latest

    def record(self) -> dict[str, Any]:
        counts = self.amplifier.counts
        keys = ("rounds", "tasks", "solved", "simulator_calls", "net_evals")
        return {
            **{k: int(counts.get(k, 0)) for k in keys},
            "max_length": self.amplifier.curriculum.level + 1,
            "search_seconds": round(counts.get("search_seconds", 0.0), 1),
        }

    def progress(self) -> str:
        counts = self.amplifier.counts
        tasks = counts.get("tasks", 0)
        parts = [
            f"round {counts.get('rounds', 0)}",
            f"solved {counts.get('solved', 0)}/{tasks}",
            f"calls {counts.get('simulator_calls', 0):,}",
            f"length ≤{self.amplifier.curriculum.level + 1}",
        ]
        if "loss" in self.loop.last:
            parts.append(f"loss {self.loop.last['loss']:.3f}")
        return " · ".join(parts)

    def report(self, record: dict[str, Any]) -> str:
        lengths = self.cfg.eval.lengths
        solved = "  ".join(f"T={n} {record.get(f'solved_T{n}', 0):.0%}" for n in lengths)
        return (
            f"round {record['rounds']:>3}  {solved}  held-out fit {record['fits_held_out']:.0%}"
            f"  train solved {record['solved']}/{record['tasks']}"
            f"  calls {record['simulator_calls']:,}  length ≤{record['max_length']}"
        )

    def summary(self, last: dict[str, Any]) -> dict[str, Any]:
        keep = ("step", "accuracy", "fits_held_out", "calls_per_solved", "rounds", "tasks")
        found = {k: last[k] for k in keep if k in last}
        found.update({k: v for k, v in last.items() if k.startswith("solved_T")})
        for k in ("solved", "simulator_calls", "net_evals"):
            found[f"train_{k}"] = last.get(k, 0)
        return {"task": self.cfg.task, "budget": self.cfg.eval.budget, **found}

    def plot(self, records: list[dict[str, Any]], path: Path) -> None:
        names = [f"T = {n}" for n in self.cfg.eval.lengths]
        plot_curves(records, path, self.cfg.label(), COSTS, names)

    def state_dict(self) -> dict:
        return {
            **self.common_state(),
            "amplifier": self.amplifier.state_dict(),
            "latest": self.latest,
        }

    def load_state_dict(self, state: dict) -> None:
        self.load_common_state(state)
        self.amplifier.load_state_dict(state["amplifier"])
        self.latest = state["latest"]
