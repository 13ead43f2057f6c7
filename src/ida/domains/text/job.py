"""A text run: the model A, its amplifier (IDA with an overseer H, or the supervised
baseline), the distiller and the core loop; its evaluations, costs and checkpoint state."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch

from ida.core.curriculum import Curriculum
from ida.core.device import resolve_device
from ida.core.loop import Loop
from ida.core.replay import ReplayBuffer
from ida.core.runs.job import Job
from ida.domains.text.amplify import GroundTruth, TextAmplifier
from ida.domains.text.config import TextConfig
from ida.domains.text.data import Rows, heldout_set
from ida.domains.text.distill import TextDistiller
from ida.domains.text.evaluate import evaluate
from ida.domains.text.human import People
from ida.domains.text.kb import HELD_OUT, TRAIN
from ida.domains.text.model import ModelSettings, TextModel
from ida.domains.text.protocol import Outside, Overseer, Waiting
from ida.domains.text.script import Noisy, ScriptedH
from ida.domains.text.words import vocab
from ida.overseers.human.desk import Desk

COSTS = ("overseer_calls", "overseer_failures", "model_calls", "labels")


def make_model(settings: ModelSettings) -> TextModel:
    """A over the domain's vocabulary, its name words marked."""
    words = vocab()
    return TextModel(
        len(words),
        settings,
        torch.from_numpy(words.name_mask()),
        torch.from_numpy(words.filler_mask()),
    )


def make_overseer(cfg: TextConfig) -> Overseer | Waiting:
    """H as ``cfg.overseer`` names it: the scripted reader (exact, or wrong at a rate), a
    language model, or people at the workbench."""
    if cfg.overseer == "human":
        desk = Desk(cfg.task, cfg.people, cfg.db, cfg.db_run or cfg.label(), cfg.overlap)
        return People(desk, cfg.poll)
    if cfg.overseer == "llm":
        from ida.domains.text.llm import llm_overseer

        return llm_overseer(cfg)
    if cfg.overseer == "noisy":
        return Noisy(ScriptedH(), cfg.noise_rate, cfg.seed)
    return ScriptedH()


def make_outside(cfg: TextConfig) -> Outside | None:
    """A for subquestions where it is not the net: a language model (``answerer`` endpoint)."""
    if cfg.answerer != "endpoint":
        return None
    from ida.domains.text.llm import llm_answerer

    return llm_answerer(cfg)


class TextJob(Job):
    """A run of the text domain."""

    def __init__(self, cfg: TextConfig):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng([cfg.seed, 0])
        self.model = make_model(cfg.model).to(self.device)
        self.curriculum = Curriculum(
            cfg.max_hops, cfg.advance_at, cfg.curriculum_samples, cfg.curriculum_focus
        )
        replay = ReplayBuffer(max(cfg.replay_instances, cfg.batch_instances), Rows)
        self.distiller = TextDistiller(
            self.model, cfg.lr, cfg.ema, replay, cfg.batch_instances, self.device
        )
        sizes = dict(
            curriculum=self.curriculum,
            people=cfg.people,
            instances=cfg.instances_per_round,
            per_instance=cfg.questions_per_instance,
            device=self.device,
            max_batch=cfg.max_batch,
        )
        self.overseer: Overseer | None = None
        warm_start = None
        if cfg.mode == "supervised":
            amplifier: TextAmplifier = GroundTruth(None, **sizes)
        else:
            self.overseer = make_overseer(cfg)
            outside = make_outside(cfg)
            amplifier = TextAmplifier(self.overseer, depth=cfg.depth, outside=outside, **sizes)
            if cfg.warm_start_steps:
                warm_start = TextAmplifier(self.overseer, use_model=False, **sizes)
        self.amplifier = amplifier
        self.loop = Loop(
            amplifier,
            self.distiller,
            self.evaluate,
            cfg.amplify_every,
            warm_start,
            cfg.warm_start_steps,
        )
        held = dict(people=cfg.people, levels=cfg.max_hops, per_level=cfg.eval_per_level)
        self.seen = heldout_set(**held, templates=TRAIN, rng=np.random.default_rng([cfg.seed, 1]))
        self.unseen = heldout_set(
            **held, templates=HELD_OUT, rng=np.random.default_rng([cfg.seed, 2])
        )

    def start(self) -> None:
        """Check the endpoint of a language model in the run (unreachable, or without the
        model asked for, is one line here), or open the workbench's database."""
        if isinstance(self.overseer, People):
            self.overseer.desk.open()
        for who in (self.overseer, self.amplifier.outside):
            client = getattr(who, "client", None)
            if client is not None:
                client.check()

    @property
    def answerer(self) -> TextModel:
        """A as the run reports it: the EMA teacher."""
        return self.distiller.teacher

    def evaluate(self, seen: Rows | None = None, unseen: Rows | None = None) -> dict[str, Any]:
        return evaluate(self.answerer, seen or self.seen, unseen or self.unseen, self.device)

    def costs(self) -> dict[str, int]:
        total = Counter(self.amplifier.counts)
        if self.loop.warm_start is not None:
            total.update(self.loop.warm_start.counts)
        return {key: total[key] for key in COSTS}

    def record(self) -> dict[str, Any]:
        """Costs, and what H and an outside A counted themselves (``h_``/``a_``: a language
        model's requests, cache hits, tokens and seconds)."""
        own = {
            k: round(v, 3) if isinstance(v, float) else v
            for k, v in self.amplifier.counts.items()
            if k.startswith(("h_", "a_"))
        }
        return {"level": self.curriculum.level, **self.costs(), **own}

    def cost_text(self) -> str:
        costs = self.costs()
        if self.cfg.mode == "supervised":
            return f"labels {costs['labels']:,}"
        return f"H calls {costs['overseer_calls']:,} (failed {costs['overseer_failures']:,})"

    def progress(self) -> str:
        return f"hops {self.curriculum.level + 1} {self.cost_text()}"

    def report(self, record: dict[str, Any]) -> str:
        def levels(key: str) -> str:
            return " ".join(f"{a:.2f}" for a in record[key])

        return (
            f"accuracy {record['accuracy']:.3f} by hops [{levels('accuracy_by_level')}]  "
            f"held-out templates {record['heldout_templates']:.3f} "
            f"[{levels('heldout_templates_by_level')}]  "
            f"curriculum hops {record['level'] + 1}  {self.cost_text()}"
        )

    def summary(self, last: dict[str, Any]) -> dict[str, Any]:
        keep = ("accuracy", "accuracy_by_level", "heldout_templates", "heldout_templates_by_level")
        return {
            "task": self.cfg.task,
            "mode": self.cfg.mode,
            "people": self.cfg.people,
            "steps": self.loop.step,
            **{k: last[k] for k in keep if k in last},
            "level": self.curriculum.level,
            **self.costs(),
            "seed": self.cfg.seed,
        }

    def state_dict(self) -> dict:
        warm = self.loop.warm_start
        return {
            **self.common_state(),
            "curriculum": self.curriculum.state_dict(),
            "counts": dict(self.amplifier.counts),
            "warm_counts": dict(warm.counts) if warm is not None else {},
        }

    def load_state_dict(self, state: dict) -> None:
        self.load_common_state(state)
        self.curriculum.load_state_dict(state["curriculum"])
        self.amplifier.counts = Counter(state["counts"])
        if self.loop.warm_start is not None:
            self.loop.warm_start.counts = Counter(state["warm_counts"])
