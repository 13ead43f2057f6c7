"""The reach profile: the decoder also reads how soon the facts that hold one question token
lead to the facts that hold another, moving along links between facts (fact f links to fact g
when the token in f's slot a is in g's slot b; for shortest paths, a = 1, b = 0 links the edge
(u, v) to the edges leaving v). For every start set (question position p, slot a), end set
(p', b), kind of link and t = 0..moves-1, the chance that t moves of a walk from the start set
land in the end set is a feature of the answer slot, and each fact's own chance to get to an end
set in t moves biases the last layer's attention (learned weights). The first t with a chance
above zero is a shortest distance; the fact that gets there soonest, a first step. These
features are read off the tokens alone, so they cost no gradient, but their number grows as
moves * fact_len^4 * (question_len + 1)^2: meant for facts of two or three slots."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from ida.core.layers import FLOOR, RELATION_SCALE
from ida.domains.qa.models.links import held_tokens, link_moves
from ida.domains.qa.models.mechanisms.base import Mechanism, Reading, Settings

MAX_FEATURES = 50_000  # 7 x 16 x 25 on shortest_path


class ReachSettings(Settings):
    """``[model.reach]``."""

    moves: int = Field(7, ge=1, description="moves the profile counts up to")


def reach_features(moves: int, fact_len: int, question_len: int) -> int:
    """The profile's inputs: start sets x end sets x kinds of link x moves."""
    sets = (question_len + 1) * fact_len
    return sets * sets * fact_len**2 * moves


class ReachProfile(Mechanism):
    name = "reach"
    reads_links = True

    def __init__(
        self, settings: ReachSettings, heads: int, d: int, vocab: int, lf: int, lq: int, sink: bool
    ):
        super().__init__()
        features = reach_features(settings.moves, lf, lq)
        if features > MAX_FEATURES:
            raise ValueError(
                f"reach.moves = {settings.moves} makes {features:,} profile features "
                f"(moves x fact_len^4 x (question_len + 1)^2), over {MAX_FEATURES:,}: the reach "
                f"profile is meant for facts of two or three slots"
            )
        self.settings, self.vocab, self.sink = settings, vocab, sink
        sets, kinds = (lq + 1) * lf, lf**2
        self.features_in = nn.Linear(features, d)
        self.weight = nn.Parameter(torch.zeros(heads, sets, kinds, settings.moves))

    def remember(self, facts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The chances the profile reads, for every token a question could hold: ``ahead``
        [I, fact_len, vocab, kinds * T, F], where (b, v, (kind, t), f) is the chance that t
        moves of that kind lead from fact f to a fact holding v in slot b, and its
        log(chance + FLOOR) / -log(FLOOR) in [-1, 0], with one more fact for the sink, which
        gets nowhere (-1)."""
        with torch.no_grad():
            links = link_moves(facts, self.settings.moves).flatten(1, 2)  # [I, kinds * T, F, G]
            holds = held_tokens(facts, self.vocab)  # [I, G, fact_len, vocab]
            ahead = torch.einsum("ixfg,igbv->ibvxf", links, holds)
            logs = torch.log(F.pad(ahead, (0, int(self.sink))) + FLOOR) / -np.log(FLOOR)
            return ahead, logs

    def answer_input(self, reading: Reading) -> torch.Tensor:
        """The profile, embedded [B, d]; each fact's bias from it [B, heads, F (+1 with the
        sink)] is kept for the last layer."""
        ahead, logs = reading.memory[self.name]
        match, tokens, index = reading.match, reading.tokens, reading.index
        slots = match.shape[-1]
        with torch.no_grad():  # the start and end sets (position p, slot a) some fact fills;
            # the others hold no fact: their features are -1 (the weights below count them)
            live = match.any(2).any(0).flatten().nonzero()[:, 0]
            position, slot = live // slots, live % slots
            token = tokens[:, position]  # [B, live]
            chance = ahead[index[:, None], slot, token]  # [B, live, kinds * T, F]
            start = match.transpose(2, 3).flatten(1, 2)[:, live]  # [B, live, F]
            start = start / start.sum(-1, keepdim=True).clamp(min=1)
            profile = torch.einsum("bsf,bexf->bsex", start, chance).flatten(1)
            profile = torch.log(profile + FLOOR) / -np.log(FLOOR)
            per_fact = logs[index[:, None], slot, token]  # [B, live, kinds * T, F (+1)]
        sets = self.weight.shape[1]
        weight = self.features_in.weight.view(-1, sets, sets, chance.shape[2])
        live_weight = weight[:, live][:, :, live].flatten(1)
        embedded = F.linear(profile, live_weight, self.features_in.bias)
        embedded = embedded - (weight.sum((1, 2, 3)) - live_weight.sum(1))  # the dead ones' -1s
        bias = self.weight[:, live].flatten(1) @ per_fact.flatten(1, 2)  # [B, heads, F]
        reading.state[self.name] = bias
        return embedded

    def decoder_bias(self, layer: int, last: bool, reading: Reading) -> torch.Tensor | None:
        return RELATION_SCALE * reading.state[self.name][:, :, None] if last else None
