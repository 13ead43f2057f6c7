"""What the text model reads into: the names found in rows of tokens (``Spans``) and each
instance's facts as a graph of its entities (``Memory``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Spans:
    """The names in rows of tokens [N, L]: each token's name (``which`` [N, L], -1: none), each
    name's key (its words as one number, [N, K]) and length in words ([N, K])."""

    which: torch.Tensor
    keys: torch.Tensor
    lengths: torch.Tensor

    def extent(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first and last position [N, 1] of name ``k`` in each row (L and -1: none)."""
        at = torch.arange(self.which.shape[1], device=self.which.device).expand_as(self.which)
        mine = self.which == k
        first = torch.where(mine, at, self.which.shape[1]).min(1, keepdim=True).values
        return first, torch.where(mine, at, -1).max(1, keepdim=True).values


@dataclass
class Memory:
    """Encoded instances as graphs: edges ``source``, ``target`` [I, E] (entity slots), their
    relation ``keys`` [I, E, d] (a fact's two edges share one), the log-probability that each
    runs from subject to object (``direction`` [I, E]) and ``valid`` [I, E]; the entities'
    ``names`` (keys, [I, N]; -1: no entity) and ``words`` [I, N, ANSWER_LEN] (the name's
    words, END, PAD)."""

    source: torch.Tensor
    target: torch.Tensor
    keys: torch.Tensor
    direction: torch.Tensor
    valid: torch.Tensor
    names: torch.Tensor
    words: torch.Tensor

    @property
    def instances(self) -> int:
        return self.names.shape[0]
