"""Self-play: Amplify(H, A) for games. The game's rules play H (every state the search makes is
a simulator step, counted), the teacher net is A, and the search over both makes better moves
than the net alone. A round plays ``games`` games at once, every move chosen by a search, and
yields each position with the search's visit counts and the game's final outcome."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ida.core.engine import BatchFn, Engine
from ida.core.loop import merge_counted, split_items
from ida.core.replay import Arrays
from ida.domains.games.game import Game
from ida.domains.games.mcts import (
    Node,
    SearchSettings,
    choose,
    make_evaluator,
    search,
    visit_policy,
)


@dataclass
class Positions(Arrays):
    """Training rows: the board, its legal moves, the search's policy and the outcome for the
    player to move."""

    boards: np.ndarray  # float32 (n, planes, H, W)
    legal: np.ndarray  # bool (n, actions)
    policy: np.ndarray  # float32 (n, actions)
    outcome: np.ndarray  # float32 (n,)


@dataclass
class Trajectory:
    """One finished game: its positions (states), the search policies, who moved, the
    search's value of each position for its mover, and the returns at the end."""

    states: list
    policies: list[np.ndarray]
    movers: list[int]
    values: list[float]
    returns: list[float]


async def self_play(
    game: Game,
    s: SearchSettings,
    temperature_moves: int,
    evaluate: BatchFn,
    rng: np.random.Generator,
    counts: Counter,
) -> Trajectory:
    """One game of the search against itself: noise at every root, moves drawn in proportion
    to visits for the first ``temperature_moves`` moves, the most visited after."""
    root = Node(game.new_state())
    states, policies, movers, values = [], [], [], []
    while root.returns is None:
        await search(root, s, evaluate, rng, counts)
        states.append(root.state)
        policies.append(visit_policy(root, game.actions))
        movers.append(root.player)
        values.append(sum(root.W) / max(root.n, 1))
        action = choose(root, 1.0 if len(states) <= temperature_moves else 0.0, rng)
        root = root.child(action) if s.reuse else Node(root.state.child(action))
        counts["simulator_steps"] += 1
    return Trajectory(states, policies, movers, values, list(root.returns))


def to_positions(game: Game, games: list[Trajectory], search_value: float = 0.0) -> Positions:
    """Every position of ``games`` as training rows; the value target is the game's outcome
    for the mover, mixed with weight ``search_value`` with the search's own value of the
    position (less noisy where moves were drawn at a temperature)."""
    states = [state for t in games for state in t.states]
    outcome = np.array([t.returns[p] for t in games for p in t.movers], dtype=np.float32)
    searched = np.array([v for t in games for v in t.values], dtype=np.float32)
    return Positions(
        boards=game.encode(states),
        legal=game.legal_mask(states),
        policy=np.stack([pi for t in games for pi in t.policies]),
        outcome=(1 - search_value) * outcome + search_value * searched,
    )


class SelfPlay:
    """The games domain's amplifier: ``games`` self-play games a round, all in one engine."""

    def __init__(
        self,
        game: Game,
        search: SearchSettings,
        games: int,
        temperature_moves: int,
        device: torch.device | str = "cpu",
        max_batch: int = 4096,
        search_value: float = 0.0,
        lanes: int = 1,
    ):
        self.game, self.search, self.games = game, search, games
        self.temperature_moves, self.device, self.max_batch = temperature_moves, device, max_batch
        self.search_value, self.lanes = search_value, lanes
        self.counts: Counter = Counter()

    def propose(self, rng: np.random.Generator) -> np.ndarray:
        """The seeds of the round's games."""
        return rng.integers(0, 2**63, size=self.games)

    def expand(self, teacher: nn.Module, work: np.ndarray) -> tuple[list[Trajectory], Counter]:
        """Play the round's games with ``teacher`` (pure: nothing of ``self`` changes)."""
        teacher.eval()
        evaluate = make_evaluator(teacher, self.game, self.device)
        counts: Counter = Counter()
        coros = [
            self_play(
                self.game,
                self.search,
                self.temperature_moves,
                evaluate,
                np.random.default_rng(int(seed)),
                counts,
            )
            for seed in work
        ]
        started = time.perf_counter()
        games = Engine(max_batch=self.max_batch, lanes=self.lanes).run(coros)
        counts["search_seconds"] = time.perf_counter() - started
        return games, counts

    def split(self, work: np.ndarray, parts: int) -> list[list[int]]:
        """The round's game seeds in ``parts`` runs: each game depends on its seed alone."""
        return split_items(work, parts)

    def merge(self, work, expanded: list[tuple[list[Trajectory], Counter]]):
        return merge_counted(expanded)

    def absorb(self, work, trees: tuple[list[Trajectory], Counter], rng) -> Positions:
        games, counts = trees
        self.counts.update(counts)
        self.counts["games"] += len(games)
        self.counts["positions"] += sum(len(t.states) for t in games)
        for t in games:
            first = t.returns[0]
            self.counts["first_wins" if first > 0 else "second_wins" if first < 0 else "draws"] += 1
        return to_positions(self.game, games, self.search_value)
