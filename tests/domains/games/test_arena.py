"""Matches: each player first in half the games, results from the right seat, scores with a
Wilson interval, and Elo ratings anchored at random."""

import numpy as np
import pytest

from ida.domains.games.arena import Match, elo, play_match
from ida.domains.games.players import Player, RandomPlayer, RolloutMCTS


class Counting(RandomPlayer):
    """Random moves; counts the games it opened."""

    def __init__(self, name):
        self.name, self.first = name, 0

    async def act(self, state, rng):
        if not state.history():
            self.first += 1
        return await super().act(state, rng)


class Perfect(Player):
    """Tic-tac-toe's optimal moves (the smallest of them)."""

    name = "perfect"

    def __init__(self, solution):
        self.best = {str(s): min(b) for s, b in zip(solution.states, solution.optimal, strict=True)}

    async def act(self, state, rng):
        return self.best[str(state)]


def test_score_and_wilson_interval():
    m = Match("a", "b", wins=3, draws=2, losses=5)
    assert m.games == 10 and m.score == pytest.approx(0.4)
    low, high = m.interval()
    assert 0 <= low < 0.4 < high <= 1
    # the textbook value: 50 of 100 -> [0.404, 0.596]
    low, high = Match("a", "b", wins=50, losses=50).interval()
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    # more games, a narrower interval around the same score
    wide = Match("a", "b", wins=6, losses=4).interval()
    narrow = Match("a", "b", wins=600, losses=400).interval()
    assert narrow[0] > wide[0] and narrow[1] < wide[1]
    assert Match("a", "b").interval() == (0.0, 1.0) and Match("a", "b").score == 0
    low, high = Match("a", "b", wins=20).interval()
    assert high == 1.0 and 0.8 < low < 1.0
    assert Match("a", "b", losses=20).interval()[0] == 0.0
    assert "a vs b: 40.0%" in m.line() and "(+3 =2 -5)" in m.line()


def test_each_player_opens_half_the_games(ttt):
    a, b = Counting("a"), Counting("b")
    match = play_match(ttt, a, b, games=10, seed=3)
    assert (a.first, b.first) == (5, 5)
    assert match.games == 10 and (match.a, match.b) == ("a", "b")
    again = play_match(ttt, Counting("a"), Counting("b"), games=10, seed=3)
    assert again == match  # the same seed, the same games


def test_results_are_read_from_each_players_seat(ttt, solution):
    """Perfect play never loses, whichever seat it has; a seat mix-up would show losses."""
    match = play_match(ttt, Perfect(solution), RandomPlayer(), games=20, seed=0)
    assert match.games == 20 and match.losses == 0 and match.wins >= 14
    flipped = play_match(ttt, RandomPlayer(), Perfect(solution), games=20, seed=0)
    assert flipped.wins == 0 and flipped.losses >= 14


def test_random_openings_make_different_games(ttt, solution):
    plain = play_match(ttt, Perfect(solution), Perfect(solution), games=6)
    assert plain.draws == 6
    opened = play_match(ttt, Perfect(solution), RandomPlayer(), games=20, openings=2)
    assert opened.games == 20


def test_elo_anchors_random_and_ranks_the_stronger_higher():
    matches = [
        Match("strong", "random", wins=18, draws=1, losses=1),
        Match("weak", "random", wins=11, draws=0, losses=9),
        Match("strong", "weak", wins=15, draws=3, losses=2),
    ]
    ratings = elo(matches)
    assert ratings["random"] == 0
    assert ratings["strong"] > ratings["weak"] > 0
    # the anchor is absent: the first player (by name) is 0; a perfect score stays finite
    ratings = elo([Match("b", "a", wins=10)])
    assert ratings["a"] == 0 and 0 < ratings["b"] < np.inf
    assert elo([]) == {}


def test_mcts_beats_random_in_an_arena(ttt):
    mcts, rand = RolloutMCTS(ttt, 100, seed=1), RandomPlayer()
    match = play_match(ttt, mcts, rand, games=10, seed=0)
    assert match.score >= 0.8
    ratings = elo([match])
    assert ratings["random"] == 0 and ratings["mcts:100"] > 100
