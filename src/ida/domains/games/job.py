"""A games run: AlphaZero as IDA. The loop is the core's: each round, self-play search amplifies
the teacher net (``SelfPlay``), and the net distils the search (``PolicyValueDistiller``)."""

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
from ida.domains.games.config import GamesConfig
from ida.domains.games.distill import PolicyValueDistiller
from ida.domains.games.evaluate import yardsticks
from ida.domains.games.game import Game
from ida.domains.games.net import PolicyValueNet
from ida.domains.games.plots import plot_games
from ida.domains.games.selfplay import SelfPlay
from ida.domains.games.solve import solve
from ida.domains.games.symmetry import symmetries

SOLVABLE = {"tic_tac_toe"}  # small enough to solve at every evaluation
COSTS = ("games", "positions", "simulations", "net_evals", "simulator_steps")


class GamesJob(Job):
    def __init__(self, cfg: GamesConfig):
        self.cfg = cfg
        self.game = game = Game(cfg.task)
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.model = PolicyValueNet(game.planes, game.height, game.width, game.actions, cfg.net).to(
            self.device
        )
        learner = Learner(self.model, cfg.lr, cfg.ema, weight_decay=cfg.weight_decay)
        syms = symmetries(game.name, game.height, game.width, game.actions) if cfg.augment else []
        self.distiller = PolicyValueDistiller(
            self.model, learner, cfg.window, cfg.batch_size, syms, self.device
        )
        self.amplifier = SelfPlay(
            game,
            cfg.search,
            cfg.games,
            cfg.temperature_moves,
            self.device,
            cfg.max_batch,
            cfg.search_value,
            cfg.lanes,
        )
        self.loop = Loop(
            self.amplifier, self.distiller, self.evaluate, amplify_every=cfg.steps_per_round
        )
        self.solution = solve(game) if game.name in SOLVABLE else None
        self.latest: dict[str, Any] = {}

    def evaluate(self) -> dict[str, Any]:
        started = time.perf_counter()
        result = yardsticks(
            self.distiller.teacher,
            self.game,
            self.cfg.eval,
            self.cfg.search,
            self.solution,
            seed=self.cfg.seed + 1,
            device=self.device,
        )
        self.latest = {**result, "eval_seconds": round(time.perf_counter() - started, 2)}
        return self.latest

    def record(self) -> dict[str, Any]:
        counts = self.amplifier.counts
        seconds = counts.get("search_seconds", 0.0)
        return {
            **{key: counts.get(key, 0) for key in COSTS},
            "sims_per_second": round(counts.get("simulations", 0) / seconds, 1) if seconds else 0,
            "outcomes": [counts.get(k, 0) for k in ("first_wins", "draws", "second_wins")],
        }

    def progress(self) -> str:
        counts = self.amplifier.counts
        seconds = counts.get("search_seconds", 0.0)
        rate = counts.get("simulations", 0) / seconds if seconds else 0.0
        parts = [f"games {counts.get('games', 0)}", f"{rate:,.0f} sims/s"]
        if "loss" in self.loop.last:
            parts.append(f"loss {self.loop.last['loss']:.3f}")
        parts += [f"{k.replace('search_vs_', 'vs ')} {v:.0%}" for k, v in self._scores()]
        return " · ".join(parts)

    def _scores(self) -> list[tuple[str, float]]:
        return [(k, v) for k, v in self.latest.items() if k.startswith("search_vs_")]

    def report(self, record: dict[str, Any]) -> str:
        parts = [f"games {record['games']:>6}", f"{record['sims_per_second']:>8,.0f} sims/s"]
        for key in ("suboptimal_search", "suboptimal_net"):
            if key in record:
                parts.append(f"{key.replace('_', ' ')} {record[key]:.2%}")
        parts += [f"{k} {v:.0%}" for k, v in record.items() if "_vs_" in k]
        if "loss" in record:
            parts.append(f"loss {record['loss']:.3f}")
        return "  ".join(parts)

    def summary(self, last: dict[str, Any]) -> dict[str, Any]:
        keep = ("step", "accuracy", *COSTS, "sims_per_second", "elo_search", "elo_net")
        found = {k: last[k] for k in keep if k in last}
        found.update({k: v for k, v in last.items() if k.startswith("suboptimal") or "_vs_" in k})
        return {"task": self.cfg.task, **found}

    def plot(self, records: list[dict[str, Any]], path: Path) -> None:
        plot_games(records, path, self.cfg.label())

    def state_dict(self) -> dict:
        return {**self.common_state(), "counts": dict(self.amplifier.counts), "latest": self.latest}

    def load_state_dict(self, state: dict) -> None:
        self.load_common_state(state)
        self.amplifier.counts.clear()
        self.amplifier.counts.update(state["counts"])
        self.latest = state["latest"]
