"""The question-answering domain's settings: the model A, amplification, distillation, the
overseer, the curriculum and evaluation, each with its default, validated."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ida.core.runs.config import RunConfig, make_config, merge
from ida.domains.qa.models.transformer import ModelSettings
from ida.overseers.human.desk import DeskSettings

EvalWeights = Literal["ema", "latest"]  # the EMA teacher, or the latest step's weights


class QAConfig(RunConfig, DeskSettings):
    """Defaults finish on 2 CPU cores in minutes at size 16; each task adds its recommended
    settings on top (``Task.config``)."""

    task: str = "permutation_powering"
    mode: Literal["ida", "supervised"] = "ida"
    size: int | None = Field(None, description="elements per instance; the task's default if unset")
    task_settings: bool = Field(
        True, description="the task's own settings (Task.config) under these; false: the defaults"
    )

    model: ModelSettings = Field(
        default_factory=ModelSettings, description="the model A: [model] and its mechanisms"
    )

    # Amplify(H, A)
    depth: int = Field(1, ge=1, description="levels of H before subquestions go to A")
    warm_start_steps: int = Field(
        0, ge=0, description="first steps take targets from H alone (A <- Distill(H))"
    )
    amplify: Literal["decompose", "adversarial"] = Field(
        "decompose", description="H decomposes and A answers, or H only where A is suspect"
    )
    select: Literal["adversary", "uncertainty", "random", "all"] = Field(
        "adversary", description="adversarial amplification: who picks the subquestions for H"
    )
    per_subquestion: bool = Field(
        False, description="each subquestion to H with probability sigmoid((tau - Adv) / alpha)"
    )
    temperature: float = Field(0.1, gt=0, description="Gumbel-max (Boltzmann) temperature T")
    temperature_end: float | None = Field(None, gt=0, description="T after anneal_rounds")
    tau: float = Field(-0.5, description="per-subquestion threshold on the score")
    alpha: float = Field(0.1, gt=0, description="per-subquestion softness")
    alpha_end: float | None = Field(None, gt=0, description="alpha after anneal_rounds")
    anneal_rounds: int = Field(0, ge=0, description="rounds over which T and alpha anneal")
    max_consults: int = Field(16, ge=1, description="nodes per root H handles, at most")
    screen_roots: bool = Field(
        False, description="per_subquestion rule for training questions too (skip trusted ones)"
    )
    instances_per_round: int = Field(32, ge=1)
    questions_per_instance: int = Field(16, ge=1)
    amplify_every: int = Field(1, ge=1, description="distillation steps per amplified round")
    max_batch: int = Field(8192, ge=1, description="largest batched model call in the engine")

    # Distill
    distill: Literal["imitation", "best_of_n", "reinforce", "mixed"] = Field(
        "imitation",
        description="how A learns from the amplified overseer (see ida.domains.qa.distill)",
    )
    lr: float = Field(1e-3, gt=0)
    ema: float = Field(
        0.99, ge=0, lt=1, description="teacher decay; the teacher answers subquestions"
    )
    batch_instances: int = Field(
        32, ge=1, description="instances per training batch (all their questions)"
    )
    replay_instances: int = Field(2048, ge=1)

    # RL distillers (best_of_n, reinforce, mixed)
    samples: int = Field(8, ge=1, description="answers sampled per question (N or K)")
    mix: float = Field(0.5, ge=0, le=1, description="imitation's weight in the mixed loss")
    kl: float = Field(
        0.01, ge=0, description="penalty on KL(policy || imitation policy) for RL distillers"
    )
    imitation_steps: int = Field(
        0, ge=0, description="RL distillers imitate first; the policy then is the KL reference"
    )
    approval: Literal["overseer", "learned"] = Field(
        "overseer", description="RL reward: the overseer's scores, or a learned approval model"
    )
    judge_share: float = Field(
        1.0, gt=0, le=1, description="share of each round's questions the overseer answers"
    )

    # the overseer H
    overseer: Literal["exact", "biased", "noisy", "wasteful", "learned", "human"] = Field(
        "exact",
        description="suboptimal demonstrators for RL-vs-imitation studies; 'learned': H' "
        "(an imitation of H's fan-out/fan-in) decomposes questions, H only on a budget; "
        "'human': the same, with people at the workbench as H",
    )
    human_budget: int = Field(
        0, ge=0, description="overseer 'learned' or 'human': calls to H in all, at most (0: no cap)"
    )
    transcripts: str | None = Field(
        None, description="overseer 'learned' or 'human': a workbench export H' learns from first"
    )
    transcript_steps: int = Field(
        200, ge=0, description="H''s training steps on the transcripts before the first round"
    )
    min_h_share: float = Field(
        0.02, ge=0, le=1, description="overseer 'learned': share H decomposes once H' is trusted"
    )
    fan_steps: int = Field(2, ge=1, description="H' (learned fan-out/fan-in) steps per round")
    fan_d_model: int = Field(64, ge=8, description="H''s width")
    confidence: float | None = Field(
        None,
        le=0,
        description="adversarial: where the answer's score passes this, Amplify(H', A) stands "
        "in for H",
    )
    own_tree: int = Field(
        0, ge=0, description="adversarial: questions per instance answered by the model's own tree"
    )
    trust_learned: float = Field(
        0.98, ge=0, le=1, description="H' stands in for H once its held-out step accuracy is this"
    )
    bias_rate: float = Field(0.25, ge=0, le=1, description="share of questions 'biased' gets wrong")
    noise_rate: float = Field(0.1, ge=0, le=1, description="P(wrong answer) of the 'noisy' H")

    # curriculum
    advance_at: float = Field(0.95, gt=0, le=1)
    curriculum_samples: int = Field(512, ge=1)
    curriculum_focus: float = Field(
        0.5, ge=0, le=1, description="share of questions at the newest level; the rest uniform"
    )

    # evaluation
    eval_per_level: int = Field(512, ge=8)
    eval_weights: EvalWeights = Field(
        "ema",
        description="the weights that evaluation, `ida eval`, `ida show` and `ida audit` use: "
        "the EMA teacher (the running average amplification asks) or the latest step's",
    )

    @model_validator(mode="after")
    def _check(self) -> QAConfig:
        scored = self.select in ("adversary", "uncertainty")
        if self.amplify == "adversarial":
            demonstrator = self.overseer in ("exact", "biased", "noisy")
            if self.mode != "ida" or self.distill != "imitation" or not demonstrator:
                raise ValueError(
                    "amplify 'adversarial' runs with mode 'ida', distill 'imitation' and an "
                    "exact, biased or noisy overseer"
                )
            if self.per_subquestion and not scored:
                raise ValueError("per_subquestion needs select 'adversary' or 'uncertainty'")
            if self.screen_roots and not self.per_subquestion:
                raise ValueError("screen_roots needs per_subquestion")
            if self.confidence is not None and not scored:
                raise ValueError("confidence needs select 'adversary' or 'uncertainty'")
        elif self.confidence is not None or self.own_tree:
            raise ValueError("confidence and own_tree apply to amplify 'adversarial'")
        learned = self.overseer in ("learned", "human")
        if learned and (
            self.mode != "ida" or self.distill != "imitation" or self.amplify != "decompose"
        ):
            raise ValueError(
                f"overseer {self.overseer!r} runs with mode 'ida', distill 'imitation' and "
                "amplify 'decompose' (adversarial runs use confidence and own_tree)"
            )
        if learned and (self.depth != 1 or self.warm_start_steps):
            raise ValueError(
                f"overseer {self.overseer!r} decomposes one level: depth 1, no warm start"
            )
        if self.human_budget and not learned:
            raise ValueError("human_budget applies to overseer 'learned' or 'human'")
        if self.transcripts is not None and not learned:
            raise ValueError("transcripts apply to overseer 'learned' or 'human'")
        if self.overseer != "human" and (self.db_run is not None or self.overlap != 1):
            raise ValueError("db_run and overlap apply to overseer 'human'")
        if self.fan_d_model % self.model.n_heads:
            raise ValueError(
                f"fan_d_model ({self.fan_d_model}) must be divisible by model.n_heads "
                f"({self.model.n_heads})"
            )
        return self

    def label(self) -> str:
        """The mode, and the distiller and overseer where they are not the defaults."""
        parts = [self.mode]
        if self.distill != "imitation":
            learned = " (learned approval)" if self.approval == "learned" else ""
            parts.append(self.distill + learned)
        if self.overseer != "exact":
            parts.append(f"{self.overseer} overseer")
        return f"{self.task} " + ", ".join(parts)


def qa_config(base: dict | None = None, **overrides) -> QAConfig:
    """A validated ``QAConfig`` from a dict plus overrides (None overrides are ignored), with
    no task's own settings: ``configure`` is what ``ida train`` runs."""
    return make_config(QAConfig, base, **overrides)


def configure(task: str, settings: dict | None = None) -> QAConfig:
    """The config ``ida train TASK`` runs: ``settings`` over the task's own (``Task.config``,
    at the size asked for), unless they say ``task_settings = false``."""
    from ida.domains.qa.tasks import task_class

    settings = dict(settings or {})
    if settings.get("task_settings", True) is not False:
        size = settings.get("size")
        own = task_class(task).recommended(size if isinstance(size, int) else None)
        settings = merge(own, settings)
    return qa_config(settings, task=task)
