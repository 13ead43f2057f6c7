"""Computed tokens: each encoder layer first reads one token out of every fact's state (a
distribution over the vocabulary: a value the fact has computed), and relational attention also
matches those. The bias of f attending to g gains a learned weight (per head, kind of link and
slot) times the chance that the token computed by a fact linked to f (or by f itself) is the
token in g's slot. A fact v := f(v_j, v_k) can then find the table row whose slots hold the
values its operands computed, a lookup that keys and queries learned slowly or never; and each
pass of a recurrent encoder (``enc_repeat``) takes the values one level further.

A fact also computes the tokens it holds, by a learned weight per slot (``token_held``,
starting at the relation prior): a constant v := c computes c from the first layer on.
``from_slot = s`` matches only g's slots s and after, through links between slots s and after
(a slot that holds a fact's kind is given, never computed, and links every fact of a kind);
``answers`` limits what a fact can compute to the task's answer tokens. Reading out kinds,
variables or padding, or the mean over every fact of a kind, is a shortcut the read-out
otherwise often settles on.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from ida.core.layers import RELATION_SCALE
from ida.domains.qa.models.links import held_tokens, token_links
from ida.domains.qa.models.mechanisms.base import Mechanism, Settings


class ComputedTokensSettings(Settings):
    """``[model.computed_tokens]``."""

    answers: bool = Field(False, description="a fact computes answer tokens only")
    from_slot: int = Field(
        0, ge=0, description="match facts' slots from this one on (1: skip a kind)"
    )


class ComputedTokens(Mechanism):
    name = "computed_tokens"

    def __init__(
        self,
        settings: ComputedTokensSettings,
        enc_layers: int,
        heads: int,
        d: int,
        vocab_size: int,
        fact_len: int,
        vocab: tuple[int, ...],
        prior: float,
    ):
        """``vocab``: the tokens a fact may compute (empty: every token)."""
        super().__init__()
        if settings.answers and not vocab:
            raise ValueError(
                "computed_tokens.answers: the task's answers are not tokens of its facts "
                "(no answer tokens to compute)"
            )
        if not 0 <= settings.from_slot < fact_len:
            raise ValueError(f"computed_tokens.from_slot must be below fact_len ({fact_len})")
        self.settings, self.vocab_size, self.vocab = settings, vocab_size, vocab
        kinds = 1 + fact_len**2  # f itself, then each kind of link (slot a -> slot b)
        self.token_read = nn.ModuleList(
            nn.Linear(d, len(vocab) or vocab_size) for _ in range(enc_layers)
        )
        for read in self.token_read:  # uniform at the start: no bias
            nn.init.zeros_(read.weight)
            nn.init.zeros_(read.bias)
        # per encoder layer and slot of f: the weight of a token f holds there in what f reads
        self.token_held = nn.Parameter(torch.full((enc_layers, fact_len), float(prior)))
        first, slots = settings.from_slot, torch.arange(fact_len)
        given = (slots[:, None] < first) | (slots[None, :] < first)  # links by a kind slot
        self.register_buffer(
            "token_kinds", torch.cat([torch.ones(1), (~given).flatten().float()]), False
        )
        self.token_relation = nn.Parameter(
            torch.full((enc_layers, heads, kinds, fact_len), float(prior))
        )

    def prepare(self, facts: torch.Tensor, same: torch.Tensor):
        """The one-hot tokens each fact holds, and its links (row means)."""
        return held_tokens(facts, self.vocab_size, self.vocab), token_links(same)

    def encoder_bias(self, layer: int, h: torch.Tensor, prepared) -> torch.Tensor:
        """The computed tokens' bias [I, heads, F, G] from the normed states ``h`` [I, F, d]:
        ``own`` [I, G, fact_len, vocab] the one-hot tokens each fact holds, ``links``
        [I, F * kinds, G] (row means)."""
        own, links = prepared
        first = self.settings.from_slot  # g's slots before it are never matched
        logits = self.token_read[layer](h)  # [I, G', vocab]: what each fact computed
        logits = logits + RELATION_SCALE * torch.einsum("igsv,s->igv", own, self.token_held[layer])
        computed = logits.softmax(-1)
        linked = (links @ computed).unflatten(1, (h.shape[1], -1))  # [I, F, kinds, vocab]
        # per head and slot of g, the weighted chances of each token: [I, F, heads, slots * vocab]
        weights = self.token_relation[layer][..., first:] * self.token_kinds[:, None]
        guess = torch.einsum("ifkv,hkb->ifhbv", linked, weights).flatten(3)
        held = own[:, :, first:].flatten(2)  # [I, G, slots * vocab]
        bias = guess.flatten(1, 2) @ held.transpose(1, 2)  # [I, F * heads, G]
        return RELATION_SCALE * bias.unflatten(1, (h.shape[1], -1)).transpose(1, 2)
