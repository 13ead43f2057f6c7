"""Builds a question-answering run from its config: task, model, amplifier, distiller, loop.

The choices a config names (``distill``, ``amplify``, ``overseer``) are looked up in small
tables of builders here, one entry each.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ida.core.curriculum import Curriculum
from ida.core.device import resolve_device
from ida.core.engine import Engine
from ida.core.errors import IdaError
from ida.core.loop import Loop
from ida.core.replay import ReplayBuffer
from ida.domains.qa.adversary import Adversary
from ida.domains.qa.amplify.adversarial import AdversarialAmplifier
from ida.domains.qa.amplify.base import QuestionAmplifier
from ida.domains.qa.amplify.decompose import DecompositionAmplifier
from ida.domains.qa.amplify.ground_truth import GroundTruth
from ida.domains.qa.amplify.learned import LearnedOverseerAmplifier
from ida.domains.qa.amplify.selection import Selection
from ida.domains.qa.config import QAConfig
from ida.domains.qa.distill.approval import ApprovalModel
from ida.domains.qa.distill.base import Distiller
from ida.domains.qa.distill.imitation import Imitation
from ida.domains.qa.distill.rl import BestOfN, Reinforce
from ida.domains.qa.evaluate import heldout_set
from ida.domains.qa.experience import Experience
from ida.domains.qa.job import QAJob
from ida.domains.qa.models.transformer import ModelShape, QAModel
from ida.domains.qa.overseers.demonstrators import Corrupting, make_overseer
from ida.domains.qa.overseers.human import TaskDesk
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer
from ida.domains.qa.tasks import Task, get_task
from ida.domains.qa.tasks.base import speaks_weak_hch


def make_model(task: Task, cfg: QAConfig) -> QAModel:
    """A for ``task`` as ``cfg.model`` sets it up; a setting the task cannot take is an error."""
    computed = cfg.model.computed_tokens
    shape = ModelShape(
        vocab_size=task.vocab_size,
        answer_size=task.answer_size,
        fact_len=task.fact_len,
        question_len=task.question_len,
        settings=cfg.model,
        computed_vocab=tuple(task.answer_tokens or ()) if computed and computed.answers else (),
    )
    try:
        return QAModel(shape)
    except ValueError as err:
        raise IdaError(f"{task.name}: {err}") from None


def unprimed(shape: ModelShape) -> ModelShape:
    """``shape`` with no relation prior: the networks beside A (the adversary, the approval
    model, H') start their relational biases at zero."""
    return shape.with_settings(relation_prior=0.0)


def _rl(cls: type, **fixed) -> Callable:
    def make(args: tuple, cfg: QAConfig, model: QAModel) -> Distiller:
        approval = ApprovalModel(unprimed(model.shape)) if cfg.approval == "learned" else None
        rl = dict(samples=cfg.samples, kl=cfg.kl, imitation_steps=cfg.imitation_steps)
        return cls(*args, approval=approval, **rl, **{k: f(cfg) for k, f in fixed.items()})

    return make


DISTILLERS: dict[str, Callable[[tuple, QAConfig, QAModel], Distiller]] = {
    "imitation": lambda args, cfg, model: Imitation(*args),
    "best_of_n": _rl(BestOfN),
    "reinforce": _rl(Reinforce),
    "mixed": _rl(Reinforce, mix=lambda cfg: cfg.mix),
}


def make_distiller(
    cfg: QAConfig,
    model: QAModel,
    replay: ReplayBuffer,
    device: torch.device,
    adversary: Adversary | None = None,
) -> Distiller:
    """The distiller ``cfg.distill`` names (with a learned approval model if asked for, and
    training the ``adversary`` next to A if there is one)."""
    critics = {"adversary": adversary} if adversary is not None else None
    args = (model, cfg.lr, cfg.ema, replay, cfg.batch_instances, device, critics)
    return DISTILLERS[cfg.distill](args, cfg, model)


def make_adversarial(
    task, cfg, curriculum, engine, adversary, overseer, learned_overseer, sizes
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
        learned_overseer=learned_overseer,
        confidence=cfg.confidence,
        own_tree=cfg.own_tree,
        **sizes,
    )


def make_learned_overseer(
    task: Task, cfg: QAConfig, model: QAModel, device: torch.device
) -> LearnedOverseer | None:
    """H', where the config uses it (``overseer`` "learned" or "human", ``confidence`` or
    ``own_tree``)."""
    if not (cfg.overseer in ("learned", "human") or cfg.confidence is not None or cfg.own_tree):
        return None
    # H' reads questions and answers, with no answer slot of A's kind: the reach profile's
    # tables, the answer slot's match and the walks would go unread
    shape = unprimed(model.shape).with_settings(
        d_model=cfg.fan_d_model, reach=None, answer_match=None, link_walk=None
    )
    return LearnedOverseer(
        task, shape, device, lr=cfg.lr, trust=cfg.trust_learned, steps_per_round=cfg.fan_steps
    )


def build_job(cfg: QAConfig) -> QAJob:
    """Fresh objects for ``cfg``, seeded; load a checkpoint's state on top to resume."""
    task = get_task(cfg.task, cfg.size)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = make_model(task, cfg).to(device)
    curriculum = Curriculum(
        task.num_levels, cfg.advance_at, cfg.curriculum_samples, cfg.curriculum_focus
    )
    replay = ReplayBuffer(max(cfg.replay_instances, cfg.batch_instances), Experience)
    adversary = None  # people see its suspicion of the model's answers, which orders the queue
    if (cfg.amplify == "adversarial" and cfg.select == "adversary") or cfg.overseer == "human":
        adversary = Adversary(unprimed(model.shape))
    learned_overseer = make_learned_overseer(task, cfg, model, device)
    distiller = make_distiller(cfg, model, replay, device, adversary)
    sizes = dict(
        instances=cfg.instances_per_round,
        per_instance=cfg.questions_per_instance,
        device=device,
        judge_share=cfg.judge_share,
        agree_with="demonstration" if cfg.distill == "imitation" else "approval",
    )
    warm_start = None
    amplifier: QuestionAmplifier
    if cfg.mode == "supervised":
        amplifier = GroundTruth(task, curriculum, **sizes)
    else:
        engine = Engine(cfg.max_batch)
        overseer = make_overseer(task, cfg.overseer, cfg.bias_rate, cfg.noise_rate)

        def decompose(kind: type = DecompositionAmplifier, **extra) -> DecompositionAmplifier:
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
                task, cfg, curriculum, engine, adversary, overseer, learned_overseer, sizes
            )
        elif cfg.overseer in ("learned", "human"):
            desk = None
            if cfg.overseer == "human":
                desk = TaskDesk(task, cfg.db, cfg.db_run or cfg.label(), cfg.overlap)
                desk.attach(engine, cfg.poll)
            amplifier = decompose(
                LearnedOverseerAmplifier,
                learned_overseer=learned_overseer,
                human_budget=cfg.human_budget,
                rounds=-(-cfg.steps // cfg.amplify_every),
                min_share=cfg.min_h_share,
                desk=desk,
                adversary=adversary,
                transcripts=cfg.transcripts,
                transcript_steps=cfg.transcript_steps,
            )
        else:
            amplifier = decompose()
        if cfg.warm_start_steps:
            warm_start = decompose(use_model=False)
    heldout = heldout_set(task, np.random.default_rng([cfg.seed, 1]), cfg.eval_per_level)
    loop = Loop(amplifier, distiller, None, cfg.amplify_every, warm_start, cfg.warm_start_steps)
    job = QAJob(
        cfg, task, device, model, curriculum, loop, heldout, np.random.default_rng([cfg.seed, 0])
    )
    loop.evaluate = job.evaluate
    return job
