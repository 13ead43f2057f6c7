"""Batched PUCT search: Monte Carlo tree search is the amplifier of AlphaZero.

Each search is an ordinary coroutine over one game's tree. Where it needs the net (a new leaf's
move priors and value) it awaits ``Call(evaluate, states)``; the engine answers the leaves of
every game in flight with one batched forward pass. Run alone in an engine, the same coroutine
is the one-game search.

- PUCT: a child's score is ``Q + c_puct * P * sqrt(N_parent) / (1 + N)``; an unvisited child's
  ``Q`` is ``unvisited_value``.
- Values are backed up per player (``W[i] += returns[node's mover]``), so games where a player
  moves twice in a row are searched correctly; terminal states are valued exactly from the
  game's returns, without the net.
- Dirichlet noise is mixed into the root's priors once per search (one draw at the start of
  each move's search), never into a node below the root.
- ``leaves`` > 1 selects that many leaves per round trip with a virtual loss on their paths, so
  one game has several evaluations in flight; with 1 (the default) the search is exact PUCT.
- Subtree reuse: the child a move leads to becomes the next search's root, statistics kept;
  each search then adds ``simulations`` new simulations to it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pyspiel
import torch
from pydantic import BaseModel, ConfigDict, Field

from ida.core.engine import BatchFn, Call, Staged
from ida.domains.games.game import Game


class SearchSettings(BaseModel):
    """How one move's search runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    simulations: int = Field(100, ge=1, description="new simulations per move")
    c_puct: float = Field(1.5, gt=0)
    dirichlet_alpha: float = Field(0.3, gt=0, description="root noise concentration")
    dirichlet_fraction: float = Field(0.25, ge=0, le=1, description="root noise weight (0: none)")
    unvisited_value: float = Field(0.0, ge=-1, le=1, description="Q of an unvisited child")
    leaves: int = Field(1, ge=1, description="leaves in flight per game (virtual loss above 1)")
    virtual_loss: float = Field(1.0, ge=0, description="loss added per leaf in flight")
    reuse: bool = Field(True, description="keep the chosen move's subtree for the next search")


class Node:
    """One state of a search tree. ``actions``, ``P``, ``N``, ``W`` and ``children`` are
    parallel lists over the legal moves (set when the node is expanded); ``W`` sums values for
    this node's mover. A terminal node holds its ``returns`` instead."""

    __slots__ = ("state", "player", "returns", "actions", "P", "N", "W", "children", "n")

    def __init__(self, state: pyspiel.State):
        self.state = state
        terminal = state.is_terminal()
        self.returns = state.returns() if terminal else None
        self.player = -1 if terminal else state.current_player()
        self.actions: list[int] | None = None
        self.n = 0

    def expand(self, actions: list[int], priors: list[float]) -> None:
        self.actions, self.P = actions, priors
        self.N = [0] * len(actions)
        self.W = [0.0] * len(actions)
        self.children: list[Node | None] = [None] * len(actions)

    def child(self, action: int) -> Node:
        """The node after ``action``: the searched one where there is one."""
        if self.actions is not None and action in self.actions:
            found = self.children[self.actions.index(action)]
            if found is not None:
                return found
        state = self.state.clone()
        state.apply_action(action)
        return Node(state)


def make_evaluator(net: torch.nn.Module, game: Game, device: torch.device | str = "cpu") -> Staged:
    """The batch function searches await: states -> (legal actions, their priors, value), the
    priors a softmax over the legal moves only. ``net`` must be in eval mode. Staged: the
    encoding and the priors are its Python, the forward pass its ``compute``."""

    @torch.inference_mode()
    def compute(boards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return net(boards.to(device))

    @torch.inference_mode()
    def finish(states, _boards, out) -> list[tuple[list[int], list[float], float]]:
        return legal_priors(states, *out)

    return Staged(lambda states: torch.from_numpy(game.encode(states)), compute, finish)


def legal_priors(
    states: Sequence[pyspiel.State], logits: torch.Tensor, values: torch.Tensor
) -> list[tuple[list[int], list[float], float]]:
    """Each state's legal actions, their priors (a softmax of ``logits`` [B, actions] over the
    legal ones only) and its value (``values``, B numbers): what an evaluator answers."""
    legal = [s.legal_actions() for s in states]
    sizes = [len(a) for a in legal]
    rows = np.repeat(np.arange(len(states)), sizes)
    cols = np.concatenate(legal)
    mask = torch.full(logits.shape, float("-inf"))
    mask[rows, cols] = 0.0
    probs = torch.softmax(logits.float().cpu() + mask, dim=-1).numpy()
    flat = probs[rows, cols].tolist()  # one list, cut into each state's share
    ends = np.cumsum(sizes).tolist()
    values = values.float().cpu().view(-1).tolist()
    return [
        (acts, flat[end - size : end], value)
        for acts, size, end, value in zip(legal, sizes, ends, values, strict=True)
    ]


def add_noise(root: Node, s: SearchSettings, rng: np.random.Generator) -> None:
    """Mix one Dirichlet draw into the root's priors (the root only, once per search)."""
    if s.dirichlet_fraction > 0 and root.actions and len(root.actions) > 1:
        eta = rng.dirichlet([s.dirichlet_alpha] * len(root.actions))
        f = s.dirichlet_fraction
        root.P = [(1 - f) * p + f * e for p, e in zip(root.P, eta.tolist(), strict=True)]


def _select(root: Node, c_puct: float, fpu: float, vl: float, counts: Counter):
    """Walk from ``root`` by PUCT to a leaf (unexpanded or terminal), adding a visit (and the
    virtual loss ``vl``) to every edge on the way; new states are made as the walk needs them."""
    node, path = root, []
    while node.returns is None and node.actions is not None:
        sq = c_puct * math.sqrt(node.n or 1)
        best, best_score = 0, -math.inf
        for i, (p, n, w) in enumerate(zip(node.P, node.N, node.W)):  # noqa: B905 (hot loop)
            score = (w / n if n else fpu) + sq * p / (1 + n)
            if score > best_score:
                best, best_score = i, score
        node.N[best] += 1
        node.W[best] -= vl
        node.n += 1
        path.append((node, best))
        child = node.children[best]
        if child is None:
            state = node.state.clone()
            state.apply_action(node.actions[best])
            counts["simulator_steps"] += 1
            child = node.children[best] = Node(state)
        node = child
    return path, node


def _undo(path: list[tuple[Node, int]], vl: float) -> None:
    for node, i in path:
        node.N[i] -= 1
        node.W[i] += vl
        node.n -= 1


def _backup(path: list[tuple[Node, int]], returns: Sequence[float], vl: float) -> None:
    for node, i in path:
        node.W[i] += returns[node.player] + vl


async def expand_root(root: Node, evaluate: BatchFn, counts: Counter) -> None:
    """Give an unexpanded, non-terminal root its priors (one net evaluation)."""
    if root.actions is None and root.returns is None:
        ((actions, priors, _),) = await Call(evaluate, [root.state])
        root.expand(actions, priors)
        counts["net_evals"] += 1


async def search(
    root: Node,
    s: SearchSettings,
    evaluate: BatchFn,
    rng: np.random.Generator,
    counts: Counter,
    noise: bool = True,
) -> None:
    """Add ``s.simulations`` simulations to ``root``'s tree (root noise if ``noise``)."""
    await expand_root(root, evaluate, counts)
    if root.returns is not None:
        return
    if noise:
        add_noise(root, s, rng)
    if s.leaves == 1:
        for _ in range(s.simulations):
            path, leaf = _select(root, s.c_puct, s.unvisited_value, 0.0, counts)
            returns = leaf.returns
            if returns is None:
                ((actions, priors, v),) = await Call(evaluate, [leaf.state])
                leaf.expand(actions, priors)
                returns = (v, -v) if leaf.player == 0 else (-v, v)
                counts["net_evals"] += 1
            _backup(path, returns, 0.0)
        counts["simulations"] += s.simulations
        return
    vl = s.virtual_loss
    done = 0
    while done < s.simulations:
        paths, leaves = [], []
        for _ in range(min(s.leaves, s.simulations - done)):
            path, leaf = _select(root, s.c_puct, s.unvisited_value, vl, counts)
            if leaf.returns is None and any(leaf is other for other in leaves):
                _undo(path, vl)  # already in flight this round: evaluate it once
                break
            paths.append(path)
            leaves.append(leaf)
        pending = [leaf for leaf in leaves if leaf.returns is None]
        answers = iter(await Call(evaluate, [leaf.state for leaf in pending]) if pending else ())
        for path, leaf in zip(paths, leaves, strict=True):
            if leaf.returns is None:
                actions, priors, v = next(answers)
                leaf.expand(actions, priors)
                returns = (v, -v) if leaf.player == 0 else (-v, v)
            else:
                returns = leaf.returns
            _backup(path, returns, vl)
        counts["net_evals"] += len(pending)
        counts["simulations"] += len(leaves)
        done += len(leaves)


def visit_policy(root: Node, actions: int) -> np.ndarray:
    """The search's result as a distribution over all ``actions``: visit counts, normalised."""
    pi = np.zeros(actions, dtype=np.float32)
    pi[root.actions] = root.N
    return pi / max(pi.sum(), 1.0)


def choose(root: Node, temperature: float, rng: np.random.Generator) -> int:
    """A move from the root's visit counts: the most visited at temperature 0 (the first of
    equals), else drawn in proportion to ``N ** (1 / temperature)``."""
    counts = np.asarray(root.N, dtype=np.float64)
    if temperature == 0 or counts.sum() == 0:
        return root.actions[int(np.argmax(counts))]
    weights = counts ** (1.0 / temperature)
    return root.actions[int(rng.choice(len(counts), p=weights / weights.sum()))]
