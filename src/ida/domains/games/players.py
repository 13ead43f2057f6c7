"""Who can sit at the board: the agent (the net with or without search), OpenSpiel's MCTS bot
with random rollouts, and uniform random. Each chooses a move as a coroutine, so an arena plays
many games at once and the agent's net calls are batched across them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

import numpy as np
import pyspiel
from torch import nn

from ida.core.engine import Call
from ida.domains.games.game import Game
from ida.domains.games.mcts import Node, SearchSettings, choose, make_evaluator, search


class Player(ABC):
    """Chooses moves; ``name`` is how tables and ratings call it."""

    name: str

    @abstractmethod
    async def act(self, state: pyspiel.State, rng: np.random.Generator) -> int:
        """The move to play in ``state`` (a legal one)."""


class RandomPlayer(Player):
    name = "random"

    async def act(self, state, rng):
        legal = state.legal_actions()
        return legal[int(rng.integers(len(legal)))]


class RolloutMCTS(Player):
    """OpenSpiel's C++ MCTS bot, one random rollout per leaf, ``simulations`` per move."""

    def __init__(self, game: Game, simulations: int, seed: int = 0):
        self.name = f"mcts:{simulations}"
        evaluator = pyspiel.RandomRolloutEvaluator(1, seed)
        self.bot = pyspiel.MCTSBot(game.spiel, evaluator, 2.0, simulations, 1000, True, seed, False)

    async def act(self, state, rng):
        return self.bot.step(state)


class NetPlayer(Player):
    """The agent: with ``simulations`` 0 the raw net's most probable legal move, else the most
    visited move of a search with no root noise."""

    def __init__(
        self,
        net: nn.Module,
        game: Game,
        simulations: int,
        search: SearchSettings | None = None,
        name: str = "agent",
        device="cpu",
    ):
        net.eval()
        self.game, self.simulations = game, simulations
        self.evaluate = make_evaluator(net, game, device)
        base = search or SearchSettings()
        self.search = base.model_copy(update={"simulations": max(simulations, 1)})
        self.name = name
        self.counts: Counter = Counter()

    async def act(self, state, rng):
        if self.simulations == 0:
            ((actions, priors, _),) = await Call(self.evaluate, [state])
            self.counts["net_evals"] += 1
            return actions[int(np.argmax(priors))]
        root = Node(state.clone())
        await search(root, self.search, self.evaluate, rng, self.counts, noise=False)
        return choose(root, 0.0, rng)
