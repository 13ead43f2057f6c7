"""The facts' token links, read off the tokens (no gradient): which slot of which fact holds
the token of which slot of another. Every algorithmic task is made of this relation (a pointer
``y`` in one fact names the ``x`` of another); the relational bias, computed tokens, the link
walk and the reach profile all read it."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ida.domains.qa.tasks.base import PAD


def shared_slots(facts: torch.Tensor, moves: bool = False) -> torch.Tensor:
    """facts [I, F, fact_len] -> [I, F, G, a, b]: slot a of fact f holds the token in slot b of
    fact g (padding shares nothing). With ``moves``, a fact's slot a does not share with its own
    slot a (a move along that stays put), but with its own slot b it does (a move: the fixed
    point s(x) = x links (x, x) to itself)."""
    real = (facts != PAD)[:, :, None, :, None]
    same = (facts[:, :, None, :, None] == facts[:, None, :, None, :]) & real
    if moves:
        n, slots = facts.shape[1], facts.shape[2]
        itself = torch.eye(n, dtype=torch.bool, device=facts.device)[:, :, None, None]
        same = same & ~(itself & torch.eye(slots, dtype=torch.bool, device=facts.device))
    return same


def link_means(same: torch.Tensor) -> torch.Tensor:
    """``shared_slots`` [I, F, G, a, b] (as floats), each (f, a, b) spread evenly over the facts g
    it links: a mean over the facts whose slot b holds the token in f's slot a (none: zeros)."""
    return same / same.sum(2, keepdim=True).clamp(min=1)


def held_tokens(facts: torch.Tensor, vocab_size: int, tokens: tuple[int, ...] = ()) -> torch.Tensor:
    """facts [I, G, fact_len] -> one-hot [I, G, fact_len, vocab], over ``tokens`` only if given
    (then [..., len(tokens)]); a padding slot holds nothing (matching it finds short facts)."""
    held = F.one_hot(facts, vocab_size).float() * (facts != PAD)[..., None]
    return held[..., list(tokens)] if tokens else held


def token_links(same: torch.Tensor) -> torch.Tensor:
    """``shared_slots`` [I, F, G, a, b] (as floats) -> [I, F * kinds, G]: row (f, kind) spreads
    evenly over the facts f links to by that kind: kind 0 is f itself, kind 1 + a * fact_len + b
    the facts whose slot b holds the token in f's slot a."""
    links = link_means(same)
    itself = torch.eye(same.shape[1], device=same.device).expand(len(same), -1, -1)
    links = torch.cat([itself[..., None], links.flatten(3)], dim=-1)
    return links.transpose(2, 3).flatten(1, 2)


def one_move(facts: torch.Tensor, moves: bool = False) -> torch.Tensor:
    """facts [I, F, fact_len] -> [I, fact_len^2, F, G]: row f of kind a * fact_len + b spreads
    evenly over the facts whose slot b holds the token in f's slot a (none: zeros); ``moves`` as
    in ``shared_slots``. Read off the tokens: no gradient."""
    with torch.no_grad():
        means = link_means(shared_slots(facts, moves=moves).float())
        return means.permute(0, 3, 4, 1, 2).flatten(1, 2)


def link_moves(facts: torch.Tensor, steps: int) -> torch.Tensor:
    """facts [I, F, fact_len] -> [I, fact_len^2, steps, F, F]: row f of entry (a * fact_len + b,
    t) is where t moves lead from fact f, each move spreading evenly over the facts whose slot b
    holds the token of the mover's slot a (no such fact: the walk stops). A fact's slot a links
    to its own slot a here (the reach profile counts staying put as a move)."""
    move = one_move(facts)  # [I, kinds, F, G]
    power = torch.eye(facts.shape[1], device=facts.device).expand_as(move)
    powers = [power]
    for _ in range(steps - 1):
        power = power @ move
        powers.append(power)
    return torch.stack(powers, dim=2)
