"""The answer slot's match: the answer slot, which holds no token of its own, gets a
relational bias too, the sum over every question position p and fact slot a of a learned
per-head weight times [question token p is in slot a]. Without it each question position
matches facts on its own token only, and a fact that matches the question as a whole (a
pattern's every fixed bit, a pair of table keys) has to be found through the embeddings; with
it the answer slot's first cross-attention can land on exactly those facts."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ida.core.layers import RELATION_SCALE
from ida.domains.qa.models.mechanisms.base import Mechanism, Reading, Settings


class AnswerMatchSettings(Settings):
    """``[model.answer_match]``: no settings; the table's presence turns it on."""


class AnswerMatch(Mechanism):
    name = "answer_match"
    reads_links = True

    def __init__(
        self,
        settings: AnswerMatchSettings,
        dec_layers: int,
        heads: int,
        question_len: int,
        fact_len: int,
        prior: float,
    ):
        super().__init__()
        self.relation = nn.Parameter(
            torch.full((dec_layers, heads, question_len, fact_len), float(prior))
        )

    def decoder_bias(self, layer: int, last: bool, reading: Reading) -> torch.Tensor:
        same = reading.match[:, :-1]  # the question's tokens (the answer slot holds none)
        if reading.sink:
            same = F.pad(same, (0, 0, 0, 1))
        whole = torch.einsum("bpfa,hpa->bhf", same, self.relation[layer])
        rows = 1 if last else reading.tokens.shape[1]  # the answer slot is the last row
        return RELATION_SCALE * F.pad(whole[:, :, None], (0, 0, rows - 1, 0))
