"""Monte Carlo tree search over edits, the alternative to best-first search
(``search.method = "mcts"``): the same states, simulator calls, world model and goals as
``search.best_first`` (``SearchState``), explored by PUCT instead of by priority."""

from __future__ import annotations

import math

import numpy as np

from ida.core.engine import BatchFn
from ida.domains.programs.guide import Advice
from ida.domains.programs.language import Language
from ida.domains.programs.search import Found, Node, Problem, SearchSettings, SearchState


class _Stats:
    """A node's edges for MCTS: visits ``N``, summed values ``W``, priors ``P`` over its
    advised edits, and the child each simulated edit made (None: a dead end)."""

    __slots__ = ("N", "W", "P", "kids")

    def __init__(self, advice: Advice):
        logp = advice.logp.astype(np.float64)
        p = np.exp(logp - logp.max())
        self.P = p / p.sum()
        self.N = np.zeros(len(logp))
        self.W = np.zeros(len(logp))
        self.kids: dict[int, Node | None] = {}


async def mcts(
    problem: Problem,
    language: Language,
    s: SearchSettings,
    guide: BatchFn,
    simulate: BatchFn,
    budget: int,
    seconds: float = math.inf,
    keep: bool = True,
) -> Found:
    """Monte Carlo tree search over edits: each simulation walks down by PUCT (priors from
    the policy) to an edit not yet simulated, simulates it and backs up the new state's value
    (the similarity metric; 0 for a dead end); ``pops`` walks per round trip, under a virtual
    loss; the goals' roots take turns."""
    search = SearchState(problem, language, s, guide, simulate, budget, seconds, keep)
    roots = await search.roots()
    stats = {id(node): _Stats(node.advice) for node in roots}
    turn = 0
    while search.running():
        walks, leaves = [], set()
        for _ in range(min(s.pops, budget - search.found.calls)):
            root = roots[turn % len(roots)]
            turn += 1
            walk = _walk(root, stats, s.c_puct)
            if walk is None:
                continue
            leaf = (id(walk[-1][0]), walk[-1][1])
            if leaf in leaves:  # already in flight this round: take the visits back
                for n, r in walk:
                    stats[id(n)].N[r] -= 1
                continue
            leaves.add(leaf)
            walks.append(walk)
        if not walks:
            break  # every edit below every root is a dead end
        leaves = [(path[-1][0], path[-1][1]) for path in walks]
        useful = search.useful(leaves)
        tried = [w for w, ok in zip(walks, useful, strict=True) if ok]
        children = await search.attempt([(p[-1][0], p[-1][1]) for p in tried])
        if search.found.program is not None:
            break
        grown = [c for c in children if c is not None]
        await search.advise(grown)
        for child in grown:
            stats[id(child)] = _Stats(child.advice)
        for walk, ok in zip(walks, useful, strict=True):
            if not ok:
                _backup(walk, None, stats, s)
        for walk, child in zip(tried, children, strict=True):
            _backup(walk, child, stats, s)
    return search.done()


_MISSING = object()


def _walk(root: Node, stats: dict, c_puct: float) -> list[tuple[Node, int]] | None:
    """The edges from ``root`` down to an edit not yet simulated, each given a visit (the
    virtual loss, until the backup); None if every edit below ``root`` is a dead end."""
    while True:
        path, node = [], root
        while True:
            st: _Stats = stats[id(node)]
            alive = np.array([st.kids.get(r, _MISSING) is not None for r in range(len(st.P))])
            if not alive.any():
                break
            # an edit not tried yet is worth what its state is (first-play urgency)
            fpu = np.full_like(st.W, node.advice.value)
            q = np.divide(st.W, st.N, out=fpu, where=st.N > 0)
            u = c_puct * st.P * math.sqrt(st.N.sum() + 1) / (1 + st.N)
            rank = int(np.argmax(np.where(alive, q + u, -np.inf)))
            path.append((node, rank))
            child = st.kids.get(rank, _MISSING)
            if child is _MISSING:  # an edit not simulated yet: the walk's leaf
                for n, r in path:
                    stats[id(n)].N[r] += 1
                return path
            if id(child) not in stats:  # a state at the length limit: nothing grows there
                st.kids[rank] = None
                break
            node = child
        if not path:
            return None
        if path[-1][0] is not node:  # ``node`` itself is a dead end: close the edge into it
            parent, rank = path[-1]
            stats[id(parent)].kids[rank] = None


def _backup(walk: list[tuple[Node, int]], child: Node | None, stats: dict, s) -> None:
    """The value of the walk's new state (0 if it led nowhere) added along the walk."""
    node, rank = walk[-1]
    if child is None:
        stats[id(node)].kids[rank] = None
        value = 0.0
    else:
        stats[id(node)].kids[rank] = child
        value = child.advice.value if s.similarity else 0.5
    for n, r in walk:
        stats[id(n)].W[r] += value
