"""The yardsticks of a games run: the share of solved positions where the agent's move is not
optimal (games small enough to solve: tic-tac-toe), and scores against uniform random and
OpenSpiel's rollout MCTS at several strengths; each for the agent with search and for the raw
net alone."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from ida.core.engine import Engine
from ida.domains.games.arena import Match, elo, play_matches
from ida.domains.games.config import EvalSettings
from ida.domains.games.game import Game
from ida.domains.games.mcts import SearchSettings
from ida.domains.games.players import NetPlayer, Player, RandomPlayer, RolloutMCTS
from ida.domains.games.solve import Solution


def opponent(game: Game, spec: str, seed: int = 0) -> Player:
    """``random`` or ``mcts:N``."""
    if spec == "random":
        return RandomPlayer()
    return RolloutMCTS(game, int(spec.split(":", 1)[1]), seed)


def suboptimal_share(player: Player, solution: Solution, seed: int = 0) -> float:
    """The share of the solved positions where ``player``'s move is not an optimal one."""
    rng = np.random.default_rng(seed)
    moves = Engine().run([player.act(state, rng) for state in solution.states])
    bad = sum(move not in best for move, best in zip(moves, solution.optimal, strict=True))
    return bad / len(solution.states)


def agents(net: nn.Module, game: Game, ev: EvalSettings, search: SearchSettings, device):
    """The agent with search, and (if ``ev.raw``) the raw net."""
    found = [NetPlayer(net, game, ev.simulations, search, "search", device)]
    if ev.raw:
        found.append(NetPlayer(net, game, 0, search, "net", device))
    return found


def yardsticks(
    net: nn.Module,
    game: Game,
    ev: EvalSettings,
    search: SearchSettings,
    solution: Solution | None,
    seed: int,
    device="cpu",
) -> dict[str, Any]:
    """Every yardstick, as flat metrics: ``suboptimal_search``, ``net_vs_mcts:1000``, ...;
    ``accuracy`` is the headline (1 - the search's suboptimal share where solved, else its score
    against the last opponent)."""
    out: dict[str, Any] = {}
    players = agents(net, game, ev, search, device)
    if solution is not None:
        for player in players:
            if player.name == "search" and not ev.solved_search:
                continue
            out[f"suboptimal_{player.name}"] = round(suboptimal_share(player, solution, seed), 5)
    rivals = {spec: opponent(game, spec, seed) for spec in ev.opponents}
    seats = [(player, spec) for spec in ev.opponents for player in players]
    pairs = [(player, rivals[spec]) for player, spec in seats]
    matches: list[Match] = play_matches(game, pairs, ev.games, seed)
    for (player, spec), match in zip(seats, matches, strict=True):
        out[f"{player.name}_vs_{spec}"] = round(match.score, 4)
    if matches:
        ratings = elo(matches)
        out.update({f"elo_{p.name}": ratings[p.name] for p in players})
    if "suboptimal_search" in out:
        out["accuracy"] = 1 - out["suboptimal_search"]
    elif "suboptimal_net" in out:
        out["accuracy"] = 1 - out["suboptimal_net"]
    else:
        out["accuracy"] = out.get(f"search_vs_{ev.opponents[-1]}", 0.0) if ev.opponents else 0.0
    return out
