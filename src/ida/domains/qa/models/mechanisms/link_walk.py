"""The link walk: the decoder walks the facts' token links, read off the tokens (no attention to
learn first). The walk starts on the facts that hold a question token in a slot (a learned
mixture of question positions and slots), moves along one kind of link (f to the facts whose
slot b holds the token in f's slot a, never from a slot to the same slot of f itself; one walk
per kind, mixed by learned weights where they end: a mixture inside each move would spread a
little further with every move), and makes t = 0..``moves`` moves, t from a softmax read from
the question after the first decoder layer (one chance per t). A move to no fact ends that part
of the walk; the last decoder layer is biased by the log of where the rest ended."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from ida.core.layers import FLOOR, RELATION_SCALE, Groups
from ida.domains.qa.models.links import one_move
from ida.domains.qa.models.mechanisms.base import Mechanism, Reading, Settings

WALK_PRIOR = 0.1  # the start of the pull towards where the walk ended


class LinkWalkSettings(Settings):
    """``[model.link_walk]``: at size n, s^k(x) needs up to n - 1 moves (it needs
    ``dec_layers >= 2``: it walks after the first layer)."""

    moves: int = Field(16, ge=1, description="the most moves the walk makes")


class LinkWalk(Mechanism):
    name = "link_walk"
    reads_links = True

    def __init__(self, settings: LinkWalkSettings, heads: int, d: int, lq: int, lf: int):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(lq * lf))  # question positions x slots
        self.kinds = nn.Parameter(torch.zeros(lf**2))  # kinds of link (slot a -> slot b)
        self.moves = nn.Linear(d, settings.moves + 1)  # the question's number of moves
        self.weight = nn.Parameter(torch.full((heads,), WALK_PRIOR))  # per head: the pull

    def remember(self, facts: torch.Tensor) -> torch.Tensor:
        """One move along each kind of link [I, kinds, F, G]."""
        return one_move(facts, moves=True)

    def after_layer(self, layer: int, x: torch.Tensor, reading: Reading) -> None:
        if layer == 0:
            links = reading.per_group(reading.memory[self.name])
            trail = self.walk(reading.match[:, :-1], x[:, -1], links, reading.groups)
            reading.state[self.name] = F.pad(trail, (0, reading.sink), value=float(np.log(FLOOR)))

    def decoder_bias(self, layer: int, last: bool, reading: Reading) -> torch.Tensor | None:
        trail = reading.state.get(self.name)
        if not last or trail is None:
            return None
        return RELATION_SCALE * (self.weight[:, None, None] * trail[:, None, None])

    def walk(
        self, match: torch.Tensor, state: torch.Tensor, links: torch.Tensor, groups: Groups
    ) -> torch.Tensor:
        """Log of where the walk ends [B, F]. It starts on the facts that hold a question token
        ``match`` [B, question_len, F, fact_len] in a slot, makes t = 0..T moves along one kind of
        ``links`` [I, kinds, F, F] (one walk per kind, mixed at the end), t read from the
        question's ``state`` [B, d], and ends spread over where each t led, by its chance."""
        found = match / match.sum(2, keepdim=True).clamp(min=1)  # each (p, a) over its facts
        start = (RELATION_SCALE * self.start).softmax(-1).view(match.shape[1], -1)
        at = groups.scatter(torch.einsum("bpfa,pa->bf", found, start))  # [I, width, F]
        moves = groups.scatter(self.moves(state).softmax(-1))  # [I, width, T + 1]
        kinds = (RELATION_SCALE * self.kinds).softmax(-1)
        at = at[:, None].expand(-1, len(kinds), -1, -1)  # [I, kinds, width, F]
        ends = moves[:, None, :, :1] * at
        for t in range(1, moves.shape[-1]):
            at = at @ links
            ends = ends + moves[:, None, :, t : t + 1] * at
        end = torch.einsum("ikwf,k->iwf", ends, kinds)
        return torch.log(groups.gather(end) + FLOOR)
