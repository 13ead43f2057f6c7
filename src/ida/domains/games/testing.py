"""Helpers for the games domain's tests and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyspiel

from ida.domains.games.game import Game


def random_positions(
    game: Game, count: int, seed: int, favour: Sequence[int] = ()
) -> list[pyspiel.State]:
    """``count`` non-terminal positions from random play, late ones included; the moves in
    ``favour`` are drawn four times as often (Connect Four's middle columns, so columns fill)."""
    rng = np.random.default_rng(seed)
    found: list[pyspiel.State] = []
    while len(found) < count:
        state = game.new_state()
        while not state.is_terminal():
            found.append(state.clone())
            legal = state.legal_actions()
            weights = np.array([1.0 + 3.0 * (a in favour) for a in legal])
            state.apply_action(legal[rng.choice(len(legal), p=weights / weights.sum())])
    return found[:count]
