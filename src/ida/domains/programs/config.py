"""A programs run's settings: the net, the search, the rounds of search and distillation, the
length curriculum and the held-out yardstick."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ida.core.runs.config import RunConfig, make_config, merge
from ida.domains.programs.net import NetSettings
from ida.domains.programs.search import SearchSettings


class EvalSettings(BaseModel):
    """The held-out tasks searched at every evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lengths: list[int] = Field(default_factory=lambda: [3, 4, 5], description="program lengths")
    tasks: int = Field(12, ge=1, description="held-out tasks per length")
    budget: int = Field(10_000, ge=1, description="simulator calls per task")
    seed: int = Field(1234, description="seed of the held-out set (fixed across runs)")


class ProgramsConfig(RunConfig):
    """Expert iteration over edits: every ``steps_per_round`` distillation steps, a round of
    searches over ``tasks`` generated tasks, each within ``budget`` simulator calls."""

    steps: int = Field(12_000, ge=1, description="distillation (gradient) steps")
    eval_every: int = Field(2400, ge=1)
    net: NetSettings = NetSettings()
    search: SearchSettings = SearchSettings()
    tasks: int = Field(128, ge=1, description="generated tasks searched a round")
    budget: int = Field(2000, ge=1, description="simulator calls per task in training")
    steps_per_round: int = Field(300, ge=1, description="distillation steps per round")
    max_length: int = Field(4, ge=1, le=8, description="longest programs trained on")
    advance_at: float = Field(0.3, gt=0, le=1, description="solved share that opens a length")
    negatives: int = Field(8, ge=0, description="value rows off the found path, per search")
    outcomes: int = Field(24, ge=0, description="forward-model rows per search")
    hindsight: int = Field(
        16, ge=0, description="programs a search ran, distilled as found for their own outputs"
    )
    explore: int = Field(
        128, ge=0, description="random programs run from each task's inputs, distilled in hindsight"
    )
    window: int = Field(150_000, ge=1, description="rows in the replay window")
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    ema: float | None = Field(None, ge=0, lt=1, description="teacher EMA (None: latest net)")
    eval: EvalSettings = EvalSettings()

    def label(self) -> str:
        return f"{self.task} (search over edits)"

    @model_validator(mode="after")
    def _fits(self) -> ProgramsConfig:
        longest = max(self.search.max_length, *self.eval.lengths)
        if self.net.slots < 3 + longest:
            raise ValueError(
                f"net.slots {self.net.slots} cannot hold 3 inputs and {longest} statements"
            )
        return self


def configure(task: str, settings: dict) -> ProgramsConfig:
    """The config for ``task`` (``programs``) from ``settings``."""
    return make_config(ProgramsConfig, {**merge({}, settings), "task": task})
