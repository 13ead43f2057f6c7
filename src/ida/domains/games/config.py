"""A games run's settings: the net, the search, self-play, distillation and the yardsticks.

Every game starts from the same defaults; ``GAME_SETTINGS`` holds what a benchmarked game
changes (each key a setting, tables merged), and ``--config``/``--set`` override both.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ida.core.runs.config import RunConfig, make_config, merge
from ida.domains.games.mcts import SearchSettings
from ida.domains.games.net import NetSettings

OPPONENT = re.compile(r"^(random|mcts:[1-9][0-9]*)$")


class EvalSettings(BaseModel):
    """The yardsticks logged at every evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opponents: list[str] = Field(
        default_factory=lambda: ["random", "mcts:100", "mcts:1000"],
        description="'random' or 'mcts:N' (OpenSpiel's MCTS bot, N rollout simulations)",
    )
    games: int = Field(20, ge=2, description="games per opponent (half as first player)")
    simulations: int = Field(100, ge=1, description="the agent's simulations per move")
    raw: bool = Field(True, description="also the raw net, no search")
    solved_search: bool = Field(True, description="solved games: also the agent with search")

    @field_validator("opponents")
    @classmethod
    def _known(cls, opponents: list[str]) -> list[str]:
        for name in opponents:
            if not OPPONENT.match(name):
                raise ValueError(f"unknown opponent {name!r} (use 'random' or 'mcts:N')")
        return opponents


class GamesConfig(RunConfig):
    """AlphaZero on an OpenSpiel game: ``steps`` distillation steps, a self-play round of
    ``games`` games every ``steps_per_round`` of them."""

    steps: int = Field(2000, ge=1, description="distillation (gradient) steps")
    eval_every: int = Field(200, ge=1)
    net: NetSettings = NetSettings()
    search: SearchSettings = SearchSettings()
    games: int = Field(256, ge=1, description="self-play games a round, all at once")
    steps_per_round: int = Field(50, ge=1, description="distillation steps per self-play round")
    temperature_moves: int = Field(8, ge=0, description="moves drawn by visit counts, then best")
    search_value: float = Field(
        0.0, ge=0, le=1, description="weight of the search's value in the value target"
    )
    window: int = Field(100_000, ge=1, description="positions in the replay window")
    batch_size: int = Field(256, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    ema: float | None = Field(None, ge=0, lt=1, description="teacher EMA (None: latest net)")
    augment: bool = Field(True, description="train on the board's symmetries too")
    max_batch: int = Field(4096, ge=1, description="largest batch of net evaluations")
    lanes: int = Field(
        1, ge=1, description="self-play engine lanes (above 1: forward passes overlap search)"
    )
    eval: EvalSettings = EvalSettings()

    def label(self) -> str:
        return f"{self.task} (AlphaZero)"


GAME_SETTINGS: dict[str, dict] = {
    "tic_tac_toe": {
        "steps": 800,
        "eval_every": 200,
        "net": {"width": 64, "blocks": 2, "value_hidden": 64},
        "search": {"simulations": 50, "dirichlet_alpha": 1.0},
        "games": 128,
        "steps_per_round": 25,
        "window": 20_000,
        "temperature_moves": 9,
        "search_value": 0.5,
        "eval": {"opponents": ["random", "mcts:100"], "simulations": 100},
    },
    "connect_four": {
        "steps": 4000,  # 1 hour 45 minutes on 2 CPU cores
        "eval_every": 500,
        "net": {"width": 64, "blocks": 4, "value_hidden": 64},
        "search": {"simulations": 100, "dirichlet_alpha": 1.0},
        "games": 256,
        "steps_per_round": 100,
        "window": 150_000,
        "temperature_moves": 10,
        "search_value": 0.5,
        "eval": {"opponents": ["random", "mcts:100", "mcts:1000"], "simulations": 200},
    },
}


def configure(task: str, settings: dict) -> GamesConfig:
    """The config for game ``task``: ``settings`` over the game's own (where it has them)."""
    from ida.domains.games.game import Game

    Game(task)  # an unknown or unplayable game is a one-line error here
    base = merge(GAME_SETTINGS.get(task, {}), {k: v for k, v in settings.items() if k != "task"})
    return make_config(GamesConfig, {**base, "task": task})
