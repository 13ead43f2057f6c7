"""Transformer layers the domains' models share: attention whose keys and values are computed
once and reused, pre-norm blocks, and the per-instance grid that lets questions read their
instance in place."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

RELATION_SCALE = 10.0  # relational biases are learned in units of this (Adam moves them ~lr)
FLOOR = 1e-6  # added to attention weights before their log: nothing is ruled out entirely


class Groups:
    """Questions laid out by instance on an [I, width] grid (question b at row ``index[b]``), so
    cross-attention reads each instance's keys and values in place instead of copying them once
    per question: the copy cost a third of a forward pass, and more in its backward."""

    def __init__(self, index: torch.Tensor, instances: int):
        counts = torch.bincount(index, minlength=instances)
        self.instances, self.width = instances, int(counts.max()) if len(index) else 1
        order = torch.argsort(index, stable=True)
        rank = torch.empty_like(index)
        rank[order] = (
            torch.arange(len(index), device=index.device)
            - (counts.cumsum(0) - counts)[index[order]]
        )
        self.flat = index * self.width + rank  # each question's cell on the flattened grid

    def scatter(self, x: torch.Tensor) -> torch.Tensor:
        """[B, ...] -> [I, width, ...], zeros in the empty cells."""
        grid = x.new_zeros((self.instances * self.width, *x.shape[1:]))
        return grid.index_copy(0, self.flat, x).unflatten(0, (self.instances, self.width))

    def gather(self, grid: torch.Tensor) -> torch.Tensor:
        """[I, width, ...] -> [B, ...]."""
        return grid.flatten(0, 1)[self.flat]


class Attention(nn.Module):
    """Multi-head attention whose keys and values can be computed once and reused."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d, d)
        self.key_value = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # [N, heads, S, d_head]

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.key_value(x).chunk(2, dim=-1)
        return self.split(k), self.split(v)

    def attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: torch.Tensor | None,
        weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Split heads' ``q`` [N, heads, S_q, d_head] over ``k``, ``v`` with ``bias`` added to the
        scores -> outputs [N, heads, S_q, d_head] and (with ``weights``) the weights."""
        if not weights:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=bias), None
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        attention = (scores if bias is None else scores + bias).softmax(-1)
        return attention @ v, attention

    def forward(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``mask`` [N, 1 or heads, S_x, S] is added to the attention scores. Returns the output
        and (with ``weights``) the attention weights [N, heads, S_x, S]."""
        y, attention = self.attend(self.split(self.query(x)), k, v, mask, weights)
        return self.out(y.transpose(1, 2).flatten(2)), attention

    def grouped(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: torch.Tensor,
        groups: Groups,
        weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cross-attention from questions ``x`` [B, S, d] to their instances' ``k``, ``v``
        [I, heads, F, d_head], with ``bias`` [I, 1 or heads, width * S, F] (``Groups`` layout).
        Returns the output and (with ``weights``) the attention weights [B, S, heads, F]."""
        q = groups.scatter(self.query(x))  # [I, width, S, d]
        width, length = q.shape[1], q.shape[2]
        y, attention = self.attend(self.split(q.flatten(1, 2)), k, v, bias, weights)
        if attention is not None:
            attention = attention.unflatten(2, (width, length)).permute(0, 2, 3, 1, 4)
            attention = groups.gather(attention)
        y = y.transpose(1, 2).flatten(2).unflatten(1, (width, length))
        return self.out(groups.gather(y)), attention


class Block(nn.Module):
    """Pre-norm self-attention (+ optional cross-attention) + MLP."""

    def __init__(self, d: int, heads: int, cross: bool):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(d), Attention(d, heads)
        self.norm2 = nn.LayerNorm(d) if cross else None
        self.cross = Attention(d, heads) if cross else None
        self.norm3 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(
        self,
        x: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory: tuple[torch.Tensor, torch.Tensor] | None = None,
        memory_bias: torch.Tensor | None = None,
        groups: Groups | None = None,
        read: slice = slice(None),
        weights: str | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``read``: the positions whose outputs are wanted (all of them attend, as keys).
        ``weights``: "self" or "cross" also returns that attention's weights (see ``Attention``)."""
        h = self.norm1(x)
        k, v = self.attn.keys_values(h)
        x, h = x[:, read], h[:, read]
        if self_mask is not None:
            self_mask = self_mask[:, :, read]
        y, attention = self.attn(h, k, v, self_mask, weights=weights == "self")
        x = x + y
        if self.cross is not None:
            y, cross = self.cross.grouped(
                self.norm2(x), *memory, memory_bias, groups, weights=weights == "cross"
            )
            x = x + y
            if weights == "cross":
                attention = cross
        x = x + self.mlp(self.norm3(x))
        return x if weights is None else (x, attention)


class RelativeBias(nn.Module):
    """A learned attention bias per head for each clipped distance between two positions."""

    def __init__(self, heads: int, reach: int):
        super().__init__()
        self.reach = reach
        self.table = nn.Parameter(torch.zeros(heads, 2 * reach + 1))

    def forward(self, length: int) -> torch.Tensor:
        """[heads, length, length]."""
        at = torch.arange(length, device=self.table.device)
        offset = (at[None, :] - at[:, None]).clamp(-self.reach, self.reach) + self.reach
        return self.table[:, offset]
