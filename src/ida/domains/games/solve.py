"""Exact solutions of small games by memoised negamax, for the yardstick "share of reachable
positions where the agent's move is not optimal" (tic-tac-toe: 4,520 positions, solved in well
under a second)."""

from __future__ import annotations

from dataclasses import dataclass

import pyspiel

from ida.domains.games.game import Game


@dataclass
class Solution:
    """Every reachable non-terminal state (by string) with its legal moves that are optimal."""

    states: list[pyspiel.State]
    optimal: list[set[int]]


def solve(game: Game) -> Solution:
    """Walk every reachable state; the value of each for the mover, and its optimal moves."""
    values: dict[str, float] = {}
    states: list[pyspiel.State] = []
    optimal: list[set[int]] = []

    def value(state: pyspiel.State) -> float:
        key = str(state)
        if key in values:
            return values[key]
        if state.is_terminal():
            return state.returns()[0]  # for player 0; callers convert
        mover = state.current_player()
        scores = {}
        for action in state.legal_actions():
            child = state.child(action)
            v0 = value(child)
            scores[action] = v0 if mover == 0 else -v0
        best = max(scores.values())
        states.append(state)
        optimal.append({a for a, v in scores.items() if v == best})
        values[key] = best if mover == 0 else -best
        return values[key]

    value(game.new_state())
    return Solution(states, optimal)
