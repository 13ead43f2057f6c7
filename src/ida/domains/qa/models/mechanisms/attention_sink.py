"""The attention sink: one learned null entry per decoder layer after the instance's facts,
which no relational bias touches. Cross-attention can rest on it (nothing matched) instead of
being forced onto some fact, and it stays open when every fact is padding."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ida.domains.qa.models.mechanisms.base import Mechanism, Settings


class AttentionSinkSettings(Settings):
    """``[model.attention_sink]``: no settings; the table's presence turns it on."""


class AttentionSink(Mechanism):
    name = "attention_sink"

    def __init__(self, settings: AttentionSinkSettings, dec_layers: int, d: int):
        super().__init__()
        self.entries = nn.Parameter(torch.randn(dec_layers, d) * 0.02)

    def extend(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """The memory ``x`` [I, F, d] with decoder ``layer``'s null entry after the facts."""
        return torch.cat([x, self.entries[layer].expand(len(x), 1, -1)], dim=1)

    @staticmethod
    def open(mask: torch.Tensor) -> torch.Tensor:
        """The additive mask [I, 1, 1, F] with the sink's entry open."""
        return F.pad(mask, (0, 1))
