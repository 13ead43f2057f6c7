"""Builds everything a run needs from its config: task, model, amplifier, distiller, loop."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from ida.adversary import Adversary
from ida.amplify.adversarial import AdversarialAmplifier, Selection
from ida.amplify.decompose import Amplifier
from ida.amplify.ground_truth import GroundTruth
from ida.amplify.learned import LearnedOverseerAmplifier
from ida.curriculum import Curriculum
from ida.distill.approval import ApprovalModel
from ida.distill.base import Distiller
from ida.distill.imitation import Imitation
from ida.distill.replay import Experience, ReplayBuffer
from ida.distill.rl import BestOfN, Reinforce
from ida.engine import Engine
from ida.errors import IdaError
from ida.evaluate import evaluate, heldout_set
from ida.learned_overseer import OverseerImitation
from ida.loop import Loop
from ida.models.qa import ModelShape, QAModel
from ida.overseers import Corrupting, make_overseer
from ida.runs.config import EvalWeights, TrainConfig
from ida.tasks import Task, get_task
from ida.tasks.base import speaks_weak_hch
from ida.trace import IMITATION, MODEL, overseer_calls


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when available; an unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise IdaError(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise IdaError("device 'cuda' asked for, but no CUDA GPU is available")
    return device


MAX_REACH_FEATURES = 50_000  # the reach profile's inputs: 7 x 16 x 25 on shortest_path


def make_model(task: Task, cfg: TrainConfig) -> QAModel:
    shape = ModelShape(
        vocab_size=task.vocab_size,
        answer_size=task.answer_size,
        fact_len=task.fact_len,
        question_len=task.question_len,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        enc_layers=cfg.enc_layers,
        enc_repeat=cfg.enc_repeat,
        computed_tokens=cfg.computed_tokens,
        computed_from_slot=cfg.computed_from_slot,
        computed_vocab=tuple(task.answer_tokens or ()) if cfg.computed_answers else (),
        dec_layers=cfg.dec_layers,
        sink=cfg.attention_sink,
        doubling=cfg.pointer_doubling,
        walk=cfg.pointer_walk,
        link_walk=cfg.link_walk,
        reach=cfg.pointer_reach,
        answer_match=cfg.answer_match,
    )
    if shape.reach_features > MAX_REACH_FEATURES:
        raise IdaError(
            f"pointer_reach = {cfg.pointer_reach} on {task.name} makes {shape.reach_features:,} "
            f"profile features (moves x fact_len^4 x (question_len + 1)^2), over "
            f"{MAX_REACH_FEATURES:,}: the reach profile is meant for facts of two or three slots"
        )
    if cfg.computed_answers and not task.answer_tokens:
        raise IdaError(f"computed_answers: {task.name}'s answers are not tokens of its facts")
    if cfg.computed_from_slot >= task.fact_len:
        raise IdaError(
            f"computed_from_slot = {cfg.computed_from_slot}, but {task.name}'s facts have "
            f"{task.fact_len} slots"
        )
    return QAModel(shape, relation_prior=cfg.relation_prior)


def make_distiller(
    task: Task,
    cfg: TrainConfig,
    model: QAModel,
    replay: ReplayBuffer,
    device: torch.device,
    adversary: Adversary | None = None,
) -> Distiller:
    """The distiller ``cfg.distill`` names (with a learned approval model if asked for, and
    training the ``adversary`` if there is one)."""
    args = (model, cfg.lr, cfg.ema, replay, cfg.batch_instances, device)
    if cfg.distill == "imitation":
        return Imitation(*args, adversary=adversary)
    approval = ApprovalModel(model.shape) if cfg.approval == "learned" else None
    rl = dict(
        samples=cfg.samples, kl=cfg.kl, imitation_steps=cfg.imitation_steps, approval=approval
    )
    if cfg.distill == "best_of_n":
        return BestOfN(*args, **rl)
    return Reinforce(*args, mix=cfg.mix if cfg.distill == "mixed" else 0.0, **rl)


def make_adversarial(
    task, cfg, curriculum, engine, adversary, overseer, imitation, sizes
) -> AdversarialAmplifier:
    """Adversarial amplification as ``cfg`` sets it up."""
    if not speaks_weak_hch(task):
        raise IdaError(f"{task.name}: adversarial amplification needs H as fan_out / fan_in")
    selection = Selection(cfg.select, cfg.per_subquestion, cfg.temperature, cfg.tau, cfg.alpha)
    return AdversarialAmplifier(
        task,
        curriculum,
        engine=engine,
        selection=selection,
        adversary=adversary,
        max_consults=cfg.max_consults,
        anneal_rounds=cfg.anneal_rounds,
        temperature_end=cfg.temperature_end,
        alpha_end=cfg.alpha_end,
        corrupt=overseer.corrupt if isinstance(overseer, Corrupting) else None,
        screen_roots=cfg.screen_roots,
        imitation=imitation,
        confidence=cfg.confidence,
        own_tree=cfg.own_tree,
        **sizes,
    )


@dataclass
class Job:
    """A run's live objects; ``state_dict`` is everything a checkpoint needs to resume."""

    cfg: TrainConfig
    task: Task
    device: torch.device
    model: QAModel
    curriculum: Curriculum
    loop: Loop
    heldout: Experience
    rng: np.random.Generator

    def costs(self) -> dict[str, int]:
        """Cumulative calls to H (decompositions and lookups), to the model, and labels used."""
        total = Counter(self.loop.amplifier.counts)
        if self.loop.warm_start is not None:
            total.update(self.loop.warm_start.counts)
        return {
            "overseer_calls": overseer_calls(total),
            "imitation_calls": total[IMITATION],
            "model_calls": total[MODEL],
            "labels": total["labels"],
        }

    @property
    def imitation(self) -> OverseerImitation | None:
        """H', the learned imitation of the overseer, where the run has one."""
        return self.loop.amplifier.imitation

    def imitation_metrics(self) -> dict[str, float]:
        """H''s held-out step accuracy per level and loss, and H's share of the last round."""
        imitation = self.imitation
        if imitation is None:
            return {}
        metrics = {
            "imitation_accuracy": imitation.accuracy.tolist(),
            "imitation_loss": imitation.loss,
        }
        share = getattr(self.loop.amplifier, "h_share", None)
        return metrics if share is None else {**metrics, "h_share": share}

    @property
    def adversary(self) -> Adversary | None:
        return getattr(self.loop.distiller, "adversary", None)

    def weights(self, which: EvalWeights | None = None) -> QAModel:
        """A with the weights ``which`` (default: the run's ``eval_weights``): "ema", the teacher,
        a running average of the weights that amplification asks, steadier than "latest"."""
        if (which or self.cfg.eval_weights) == "latest":
            return self.model
        return self.loop.distiller.teacher

    @property
    def answerer(self) -> QAModel:
        """A as the run reports it (``eval_weights``)."""
        return self.weights()

    def evaluate(self, data: Experience | None = None, weights: EvalWeights | None = None) -> dict:
        """Held-out accuracy (on ``data``, default the run's held-out set) of A's ``weights``."""
        data = self.heldout if data is None else data
        return evaluate(self.weights(weights), data, self.device, adversary=self.adversary)

    def state_dict(self) -> dict:
        loop = self.loop
        return {
            "step": loop.step,
            "config": self.cfg.model_dump(),
            "model": self.model.state_dict(),
            "distiller": loop.distiller.state_dict(),
            "curriculum": self.curriculum.state_dict(),
            "counts": dict(loop.amplifier.counts),
            "amplifier": loop.amplifier.state_dict(),
            "warm_counts": dict(loop.warm_start.counts) if loop.warm_start else {},
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        loop = self.loop
        loop.step = state["step"]
        self.model.load_state_dict(state["model"])
        loop.distiller.load_state_dict(state["distiller"])
        self.curriculum.load_state_dict(state["curriculum"])
        loop.amplifier.counts = Counter(state["counts"])
        loop.amplifier.load_state_dict(state.get("amplifier", {}))
        if loop.warm_start is not None:
            loop.warm_start.counts = Counter(state["warm_counts"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])


def build_job(cfg: TrainConfig) -> Job:
    """Fresh objects for ``cfg``, seeded; load a checkpoint's state on top to resume."""
    task = get_task(cfg.task, cfg.size)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = make_model(task, cfg).to(device)
    curriculum = Curriculum(
        task.num_levels, cfg.advance_at, cfg.curriculum_samples, cfg.curriculum_focus
    )
    replay = ReplayBuffer(max(cfg.replay_instances, cfg.batch_instances))
    adversary = imitation = None
    if cfg.amplify == "adversarial" and cfg.select == "adversary":
        adversary = Adversary(model.shape)
    if cfg.overseer == "learned" or cfg.confidence is not None or cfg.own_tree:
        # H' reads questions and answers, with no answer slot of A's kind: the reach profile's
        # tables, the answer slot's match and the walks would go unread
        shape = dataclasses.replace(
            model.shape,
            d_model=cfg.fan_d_model,
            reach=0,
            answer_match=False,
            walk=False,
            link_walk=0,
        )
        imitation = OverseerImitation(
            task,
            shape,
            device,
            lr=cfg.lr,
            trust=cfg.trust_imitation,
            steps_per_round=cfg.fan_steps,
        )
    distiller = make_distiller(task, cfg, model, replay, device, adversary)
    sizes = dict(
        instances=cfg.instances_per_round,
        per_instance=cfg.questions_per_instance,
        device=device,
        judge_share=cfg.judge_share,
        agree_with="demonstration" if cfg.distill == "imitation" else "approval",
    )
    warm_start = None
    if cfg.mode == "supervised":
        amplifier = GroundTruth(task, curriculum, **sizes)
    else:
        engine = Engine(cfg.max_batch)
        overseer = make_overseer(task, cfg.overseer, cfg.bias_rate, cfg.noise_rate)

        def decompose(kind: type[Amplifier] = Amplifier, **extra) -> Amplifier:
            return kind(
                task,
                curriculum,
                engine=engine,
                depth=cfg.depth,
                overseer=overseer,
                exact_judge=cfg.distill != "imitation",  # only RL distillers use its approval
                **sizes,
                **extra,
            )

        if cfg.amplify == "adversarial":
            amplifier = make_adversarial(
                task, cfg, curriculum, engine, adversary, overseer, imitation, sizes
            )
        elif cfg.overseer == "learned":
            amplifier = decompose(
                LearnedOverseerAmplifier,
                imitation=imitation,
                human_budget=cfg.human_budget,
                rounds=-(-cfg.steps // cfg.amplify_every),
                min_share=cfg.min_h_share,
            )
        else:
            amplifier = decompose()
        if cfg.warm_start_steps:
            warm_start = decompose()
            warm_start.use_model = False
    heldout = heldout_set(task, np.random.default_rng([cfg.seed, 1]), cfg.eval_per_level)
    job = Job(
        cfg,
        task,
        device,
        model,
        curriculum,
        None,
        heldout,  # type: ignore[arg-type]
        np.random.default_rng([cfg.seed, 0]),
    )
    job.loop = Loop(
        amplifier, distiller, job.evaluate, cfg.amplify_every, warm_start, cfg.warm_start_steps
    )
    return job
