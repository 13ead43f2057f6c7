"""An OpenSpiel game as the games domain sees it: loaded by name, checked to be one that
AlphaZero-style search can play (two players, zero-sum, perfect information, sequential, no
chance), and encoded for the net.

The net reads OpenSpiel's observation tensor (as planes of the board) plus one plane that says
whose move it is, since OpenSpiel's tensors for these games are the same for both players.
Legal moves always come from the game.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache

import numpy as np
import pyspiel
from open_spiel.python.observation import make_observation

from ida.core.errors import IdaError

# the games the benchmarks measure, first in every listing
FEATURED = {
    "tic_tac_toe": "tic-tac-toe (3x3; solved exactly: the share of optimal moves is its yardstick)",
    "connect_four": "Connect Four (6x7)",
}
_Type = pyspiel.GameType


def unplayable(kind: pyspiel.GameType, players: int | None = None) -> str | None:
    """Why a game of this type cannot be played by this domain (None: it can)."""
    players = kind.max_num_players if players is None else players
    if not (kind.min_num_players <= 2 <= kind.max_num_players) or players != 2:
        return "it is not a two-player game"
    if kind.utility != _Type.Utility.ZERO_SUM:
        return "it is not zero-sum"
    if kind.information != _Type.Information.PERFECT_INFORMATION:
        return "it has hidden information"
    if kind.dynamics != _Type.Dynamics.SEQUENTIAL:
        return "its moves are not sequential"
    if kind.chance_mode != _Type.ChanceMode.DETERMINISTIC:
        return "it has chance moves"
    if not kind.provides_observation_tensor:
        return "it has no observation tensor"
    return None


@cache
def _registered() -> dict[str, pyspiel.GameType]:
    return {kind.short_name: kind for kind in pyspiel.registered_games()}


class GameNames(Mapping):
    """The domain's tasks: every playable OpenSpiel game, name -> description. Any game
    OpenSpiel has is *in* it (so ``ida train kuhn_poker`` reaches this domain and hears why it
    cannot be played), but only the playable ones are listed."""

    def _playable(self) -> list[str]:
        names = [n for n, kind in _registered().items() if unplayable(kind, 2) is None]
        return list(FEATURED) + sorted(n for n in names if n not in FEATURED)

    def __getitem__(self, name: str) -> str:
        kind = _registered()[name]
        return FEATURED.get(name, kind.long_name)

    def __contains__(self, name: object) -> bool:
        return name in _registered()

    def __iter__(self) -> Iterator[str]:
        return iter(self._playable())

    def __len__(self) -> int:
        return len(self._playable())


class Game:
    """A playable OpenSpiel game: ``planes x height x width`` inputs, ``actions`` outputs."""

    def __init__(self, name: str):
        if name not in _registered():
            raise IdaError(f"unknown game {name!r}; `ida tasks` lists the games")
        try:
            self.spiel = pyspiel.load_game(name)
        except pyspiel.SpielError as err:
            raise IdaError(f"cannot load game {name!r}: {err}") from None
        why = unplayable(_registered()[name], self.spiel.num_players())
        if why is not None:
            raise IdaError(f"game {name!r} cannot be played by AlphaZero search: {why}")
        self.name = name
        shape = tuple(self.spiel.observation_tensor_shape())
        shape = (1, 1, *shape) if len(shape) == 1 else (1, *shape) if len(shape) == 2 else shape
        if len(shape) != 3:
            raise IdaError(f"game {name!r} has a {len(shape)}-d observation the net cannot read")
        self.obs_shape: tuple[int, int, int] = shape  # type: ignore[assignment]
        self.planes = shape[0] + 1  # + whose move it is
        self.height, self.width = shape[1], shape[2]
        self.actions = self.spiel.num_distinct_actions()
        self.size = int(np.prod(shape))

    def new_state(self) -> pyspiel.State:
        return self.spiel.new_initial_state()

    def encode(self, states: Sequence[pyspiel.State]) -> np.ndarray:
        """The net's input for ``states`` (none terminal): float32 ``(B, planes, H, W)``.
        OpenSpiel's observer writes each state's tensor straight into a buffer (a tenth of the
        cost of ``observation_tensor``'s Python list); a fresh observer per call, so calls
        from several threads do not share one."""
        n = len(states)
        observation = make_observation(self.spiel)
        obs = np.empty((n, self.size), dtype=np.float32)
        movers = [s.current_player() for s in states]
        for row, (state, mover) in enumerate(zip(states, movers, strict=True)):
            observation.set_from(state, mover)
            obs[row] = observation.tensor
        mover = np.asarray(movers, dtype=np.float32)
        plane = np.broadcast_to(mover[:, None, None, None], (n, 1, *self.obs_shape[1:]))
        return np.concatenate([obs.reshape(n, *self.obs_shape), plane], axis=1)

    def legal_mask(self, states: Sequence[pyspiel.State]) -> np.ndarray:
        """Bool ``(B, actions)``: the legal moves of each state."""
        mask = np.zeros((len(states), self.actions), dtype=bool)
        for row, state in enumerate(states):
            mask[row, state.legal_actions()] = True
        return mask

    def replay(self, actions: Sequence[int]) -> pyspiel.State:
        """The state after ``actions`` from the start; an illegal one is a ``ValueError``."""
        state = self.new_state()
        for number, action in enumerate(actions):
            if state.is_terminal():
                raise ValueError(f"move {number + 1} ({action}) comes after the game has ended")
            if action not in state.legal_actions():
                raise ValueError(f"move {number + 1} ({action}) is illegal there")
            state.apply_action(action)
        return state
