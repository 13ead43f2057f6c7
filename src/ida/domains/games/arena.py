"""Matches between players: many games at once, each player first in half of them; scores
with a confidence interval, and Elo ratings across a pool of players."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ida.core.engine import Engine
from ida.domains.games.game import Game
from ida.domains.games.players import Player


@dataclass
class Match:
    """``a``'s results against ``b``."""

    a: str
    b: str
    wins: int = 0
    draws: int = 0
    losses: int = 0

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        """Wins plus half the draws, per game."""
        return (self.wins + 0.5 * self.draws) / max(self.games, 1)

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """The Wilson score interval of ``score`` (95% by default)."""
        n, p = self.games, self.score
        if n == 0:
            return 0.0, 1.0
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def line(self) -> str:
        low, high = self.interval()
        return (
            f"{self.a} vs {self.b}: {self.score:.1%} [{low:.0%}, {high:.0%}] over {self.games} "
            f"games (+{self.wins} ={self.draws} -{self.losses})"
        )


async def _game(
    game: Game, first: Player, second: Player, rng: np.random.Generator, openings: int
) -> list[float]:
    state = game.new_state()
    seats = (first, second)
    for _ in range(openings):
        if state.is_terminal():
            break
        legal = state.legal_actions()
        state.apply_action(legal[int(rng.integers(len(legal)))])
    while not state.is_terminal():
        action = await seats[state.current_player()].act(state, rng)
        state.apply_action(action)
    return state.returns()


def play_match(
    game: Game, a: Player, b: Player, games: int, seed: int = 0, openings: int = 0
) -> Match:
    """``games`` games of ``a`` against ``b`` (``a`` first in the even-numbered ones), the
    first ``openings`` moves of each played at random."""
    return play_matches(game, [(a, b)], games, seed, openings)[0]


def play_matches(
    game: Game,
    pairs: list[tuple[Player, Player]],
    games: int,
    seed: int = 0,
    openings: int = 0,
) -> list[Match]:
    """``play_match`` for every pair, all games of all pairs in one engine, so that the net
    calls of every match share batches."""
    coros = []
    for a, b in pairs:
        for i in range(games):
            rng = np.random.default_rng([seed, i])
            first, second = (a, b) if i % 2 == 0 else (b, a)
            coros.append(_game(game, first, second, rng, openings))
    results = Engine().run(coros)
    matches = []
    for k, (a, b) in enumerate(pairs):
        match = Match(a.name, b.name)
        for i, returns in enumerate(results[k * games : (k + 1) * games]):
            mine = returns[i % 2]
            if mine > 0:
                match.wins += 1
            elif mine < 0:
                match.losses += 1
            else:
                match.draws += 1
        matches.append(match)
    return matches


def elo(matches: list[Match], anchor: str = "random", iterations: int = 200) -> dict[str, float]:
    """Elo ratings that best explain ``matches`` (Bradley-Terry, draws as half a win), with
    ``anchor`` (or the first player, if it is absent) at 0. Every pair also gets one virtual
    draw, so a perfect score gives a large but finite gap."""
    names = sorted({m.a for m in matches} | {m.b for m in matches})
    if not names:
        return {}
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    score = np.zeros((n, n))
    games = np.zeros((n, n))
    for m in matches:
        i, j = index[m.a], index[m.b]
        score[i, j] += m.wins + 0.5 * m.draws + 0.5
        score[j, i] += m.losses + 0.5 * m.draws + 0.5
        games[i, j] += m.games + 1
        games[j, i] += m.games + 1
    strength = np.ones(n)
    for _ in range(iterations):  # minorisation-maximisation (Hunter 2004)
        wins = score.sum(1)
        denom = (games / (strength[:, None] + strength[None, :])).sum(1)
        strength = np.where(denom > 0, wins / np.maximum(denom, 1e-12), strength)
        strength /= np.exp(np.log(strength).mean())
    ratings = 400 * np.log10(strength)
    zero = ratings[index.get(anchor, 0)]
    return {name: round(float(ratings[i] - zero), 1) for name, i in index.items()}
