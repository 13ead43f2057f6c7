"""The symmetries of a game's board, for augmenting the net's training data.

A symmetry maps a board to an equivalent one and every action to its image, so a position's
visit-count policy and legal moves are permuted with it while its value is unchanged. Only games
listed here have any: tic-tac-toe (the eight rotations and reflections of the square, actions
being cells) and Connect Four (the mirror, actions being columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Symmetry:
    """``rotations`` quarter turns then (with ``flip``) a left-right mirror of the board;
    ``source[a]``: the action of the original board that becomes action ``a``."""

    rotations: int
    flip: bool
    source: np.ndarray

    def boards(self, boards: np.ndarray) -> np.ndarray:
        """``(B, planes, H, W)`` boards transformed."""
        out = np.rot90(boards, self.rotations, axes=(2, 3))
        return np.ascontiguousarray(out[..., ::-1] if self.flip else out)

    def actions(self, per_action: np.ndarray) -> np.ndarray:
        """``(B, actions)`` values (a policy, a legal mask) moved with the board."""
        return per_action[:, self.source]


def _cells(height: int, width: int, rotations: int, flip: bool) -> Symmetry:
    index = np.arange(height * width).reshape(1, 1, height, width)
    moved = Symmetry(rotations, flip, np.empty(0, dtype=np.int64)).boards(index)
    return Symmetry(rotations, flip, moved.reshape(-1))


def symmetries(game: str, height: int, width: int, actions: int) -> list[Symmetry]:
    """Every symmetry of ``game`` other than the identity (none for unlisted games)."""
    if game == "tic_tac_toe":
        return [
            _cells(height, width, r, f) for r in range(4) for f in (False, True) if (r, f) != (0, 0)
        ]
    if game == "connect_four":
        return [Symmetry(0, True, np.arange(actions)[::-1].copy())]
    return []
