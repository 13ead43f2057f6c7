"""What the tests of the games domain share: the two benchmarked games, tic-tac-toe solved, an
exact value oracle, and deterministic evaluators that need no net."""

from functools import cache

import numpy as np
import pytest

from ida.domains.games.game import Game
from ida.domains.games.solve import solve


@cache
def _game(name):
    return Game(name)


@cache
def _solution():
    return solve(_game("tic_tac_toe"))


@pytest.fixture
def ttt():
    return _game("tic_tac_toe")


@pytest.fixture
def c4():
    return _game("connect_four")


@pytest.fixture
def solution():
    """Tic-tac-toe solved: every reachable non-terminal state and its optimal moves."""
    return _solution()


_VALUES: dict[str, float] = {}


def exact_value(state):
    """The value of non-terminal ``state`` for the player to move, by negamax over the tree."""
    key = str(state)
    if key not in _VALUES:
        mover, best = state.current_player(), -np.inf
        for action in state.legal_actions():
            child = state.child(action)
            if child.is_terminal():
                v = child.returns()[mover]
            else:
                v = exact_value(child) * (1 if child.current_player() == mover else -1)
            best = max(best, v)
        _VALUES[key] = best
    return _VALUES[key]


def uniform_evaluator(states):
    """Uniform priors over the legal moves, value 0: the search learns only from the rules."""
    return [
        (s.legal_actions(), [1 / len(s.legal_actions())] * len(s.legal_actions()), 0.0)
        for s in states
    ]


def oracle_evaluator(states):
    """Uniform priors and the exact value of each state for its mover."""
    return [
        (a, p, float(exact_value(s)))
        for (a, p, _), s in zip(uniform_evaluator(states), states, strict=True)
    ]


@pytest.fixture
def uniform():
    return uniform_evaluator


@pytest.fixture
def oracle():
    return oracle_evaluator


class Linear:
    """A deterministic evaluator computed row by row in float64 from each state alone (so its
    answers cannot depend on what else is in the batch): a fixed random linear policy over the
    legal moves and a tanh value. Records the size of every batch it is given."""

    def __init__(self, game, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(size=(game.size + 1, game.actions))
        self.value = rng.normal(size=game.size + 1) / 3
        self.batches = []

    def __call__(self, states):
        self.batches.append(len(states))
        out = []
        for s in states:
            x = np.asarray(s.observation_tensor(s.current_player()), dtype=np.float64)
            x = np.append(x, 1.0 - 2.0 * s.current_player())
            legal = s.legal_actions()
            z = x @ self.weights[:, legal]
            p = np.exp(z - z.max())
            out.append((legal, (p / p.sum()).tolist(), float(np.tanh(x @ self.value))))
        return out


@pytest.fixture
def linear():
    """``linear(game, seed=0)``: a fresh ``Linear`` evaluator."""
    return Linear
