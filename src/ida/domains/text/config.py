"""A text run's settings: the world's size, the model A, amplification, distillation, the
curriculum and evaluation. ``TASK_SETTINGS`` holds each task's recommended settings, over
the defaults; ``--config`` and ``--set`` override both."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ida.core.runs.config import RunConfig, make_config, merge
from ida.domains.text.model import ModelSettings
from ida.domains.text.questions import MAX_HOPS
from ida.overseers.human.desk import DeskSettings

OVERSEERS = ("script", "noisy", "llm", "human")
MIN_PEOPLE, MAX_PEOPLE = 4, 12


class TextConfig(RunConfig, DeskSettings):
    """English questions of 1 to ``max_hops`` hops about small generated worlds."""

    task: str = "text_kb"
    mode: Literal["ida", "supervised"] = "ida"
    size: int | None = Field(
        None, description=f"people per world, {MIN_PEOPLE} to {MAX_PEOPLE} (default 8)"
    )
    max_hops: int = Field(MAX_HOPS, ge=1, le=MAX_HOPS, description="the hardest questions")
    overseer: str = Field(
        "script",
        description="H: 'script' (the scripted reader), 'noisy' (it, wrong at noise_rate), "
        "'llm' (a language model) or 'human' (people at the workbench)",
    )
    noise_rate: float = Field(0.1, ge=0, le=1, description="overseer noisy: answers made wrong")
    answerer: Literal["net", "endpoint"] = Field(
        "net", description="A for subquestions: the net, or the language model at 'endpoint'"
    )

    # a language model behind an OpenAI-compatible endpoint (overseer 'llm', answerer 'endpoint')
    endpoint: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1")
    llm_model: str | None = Field(None, description="the model's name at the endpoint")
    llm_cache: str | None = Field(None, description="reply cache (default ~/.cache/ida/llm.sqlite)")
    llm_tries: int = Field(3, ge=1, description="requests per step before it counts as failed")
    llm_concurrency: int = Field(4, ge=1, description="requests in flight at once")
    llm_timeout: float = Field(120.0, gt=0, description="seconds per request")
    llm_temperature: float = Field(0.0, ge=0)
    model: ModelSettings = Field(default_factory=ModelSettings)

    # Amplify(H, A)
    depth: int = Field(1, ge=1, description="levels of H before subquestions go to A")
    warm_start_steps: int = Field(
        0, ge=0, description="first steps take targets from H alone (A <- Distill(H))"
    )
    instances_per_round: int = Field(32, ge=1)
    questions_per_instance: int = Field(16, ge=1)
    amplify_every: int = Field(1, ge=1, description="distillation steps per amplified round")
    max_batch: int = Field(8192, ge=1, description="largest batched model call in the engine")

    # Distill
    lr: float = Field(1e-3, gt=0)
    ema: float = Field(0.99, ge=0, lt=1, description="teacher decay")
    batch_instances: int = Field(32, ge=1, description="instances per batch (all questions)")
    replay_instances: int = Field(2048, ge=1)

    # curriculum and evaluation
    advance_at: float = Field(0.95, gt=0, le=1)
    curriculum_samples: int = Field(512, ge=1)
    curriculum_focus: float = Field(0.5, ge=0, le=1)
    eval_per_level: int = Field(256, ge=8)

    @field_validator("overseer")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in OVERSEERS:
            raise ValueError(
                f"overseer {name!r} is not available for the text domain; "
                f"choose {' or '.join(map(repr, OVERSEERS))}"
            )
        return name

    @model_validator(mode="after")
    def _endpoint(self) -> TextConfig:
        if (self.overseer == "llm" or self.answerer == "endpoint") and not (
            self.endpoint and self.llm_model
        ):
            raise ValueError("a language model needs --endpoint URL and --model NAME")
        return self

    @field_validator("size")
    @classmethod
    def _people(cls, size: int | None) -> int | None:
        if size is not None and not MIN_PEOPLE <= size <= MAX_PEOPLE:
            raise ValueError(f"size (people per world) must be {MIN_PEOPLE} to {MAX_PEOPLE}")
        return size

    @property
    def people(self) -> int:
        return 8 if self.size is None else self.size

    def label(self) -> str:
        return f"{self.task} {self.mode}"


TASKS = {
    "text_kb": "English facts about people, employers and places; questions of 1 to 4 hops",
}
TASK_SETTINGS: dict[str, dict] = {
    "text_kb": {
        "steps": 2000,
        "eval_every": 200,
        "lr": 2e-3,
        "instances_per_round": 16,
        "batch_instances": 16,
        "model": {"d_model": 64, "n_heads": 4, "enc_layers": 1, "dec_layers": 2},
    }
}


def tasks() -> dict[str, str]:
    return TASKS


def configure(task: str, settings: dict) -> TextConfig:
    """The config for ``task``: ``settings`` over the task's recommended ones."""
    base = merge(TASK_SETTINGS[task], {k: v for k, v in settings.items() if k != "task"})
    return make_config(TextConfig, {**base, "task": task})
