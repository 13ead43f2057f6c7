"""The one interface between the transformer and its optional mechanisms (the attention sink,
which changes the memory's shape, has two methods of its own).

The transformer calls each hook at its place, for every active mechanism in a fixed order; a
hook that has nothing to add returns None. ``Reading`` is what the decoder knows of one batch
of questions, shared by the hooks of one decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from ida.core.layers import Groups


class Settings(BaseModel):
    """A mechanism's table of settings (``[model.NAME]``); validated, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Reading:
    """One decoding: question ``tokens`` [B, S] (PAD where a position holds none), ``match``
    [B, S, F, fact_len] (token p is in slot a of fact f; None unless a hook needs it), their
    instances ``index`` [B] and ``groups``, ``lopsided`` (keys and values copied per question,
    so per-instance tensors must be too), what the mechanisms remembered at encoding
    (``memory``, by name), ``sink`` (1 with the attention sink, else 0), and ``state``: what a
    hook leaves for a later one (by mechanism name)."""

    tokens: torch.Tensor
    match: torch.Tensor | None
    index: torch.Tensor
    groups: Groups
    lopsided: bool
    memory: dict[str, Any]
    sink: int
    state: dict[str, Any] = field(default_factory=dict)

    def per_group(self, x: torch.Tensor) -> torch.Tensor:
        """A per-instance tensor [I, ...] laid out as ``groups`` reads it."""
        return x[self.index] if self.lopsided else x


class Mechanism(nn.Module):
    """An optional part of the model. ``name`` is its config table's; ``reads_links``: it needs
    ``Reading.match`` (and hence the facts' token links)."""

    name: str = ""
    reads_links: bool = False

    def remember(self, facts: torch.Tensor) -> Any:
        """At encoding: tables per instance that decoding reads (``Reading.memory[name]``)."""
        return None

    def prepare(self, facts: torch.Tensor, same: torch.Tensor) -> Any:
        """Before the encoder: what ``encoder_bias`` reads at every layer."""
        return None

    def encoder_bias(self, layer: int, h: torch.Tensor, prepared: Any) -> torch.Tensor | None:
        """Added to encoder ``layer``'s self-attention scores [I, heads, F, F], from the normed
        states ``h`` [I, F, d]."""
        return None

    def answer_input(self, reading: Reading) -> torch.Tensor | None:
        """Added to the answer slot's input [B, d]."""
        return None

    def after_layer(self, layer: int, x: torch.Tensor, reading: Reading) -> None:
        """After decoder ``layer``, with its states ``x`` [B, S, d]."""

    def decoder_bias(self, layer: int, last: bool, reading: Reading) -> torch.Tensor | None:
        """Added to decoder ``layer``'s cross-attention scores: [B, heads, 1 or S_part, F (+1
        with the sink)]; ``last``: it is the last layer, which computes the answer slot only."""
        return None
