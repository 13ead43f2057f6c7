"""The model A: a transformer that reads an instance's facts once and answers many questions.

``encode`` turns each instance's facts (a set: no positions) into a memory, and projects it
once into every decoder layer's cross-attention keys and values. ``answer_logits`` reads a
batch of questions, each pointing at its instance's memory, and scores every answer token.
Encoding (and projecting) once per instance and reusing it for all of its questions and
subquestions is what makes amplification and training cheap.

With ``relational=True`` attention also sees which tokens two facts (or a question and a fact)
share: a learned per-head bias for every pair of token slots that hold the same token. That is
the relation every algorithmic task is made of (a pointer ``y`` in one fact names the ``x`` of
another) and it spares the model a long plateau before it discovers it from embeddings alone.
``relation_prior`` starts every such bias above zero (attend to facts that share a token) instead
of at zero, which removes the plateau before the first lookup is learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ida.tasks.base import PAD

RELATION_SCALE = 10.0


@dataclass(frozen=True)
class Memory:
    """Instances' encoded facts, and which instance each question reads.

    ``kv`` per decoder layer (keys, values) [I, heads, F, d_head]; ``mask`` [I, 1, 1, F] additive
    (-inf on padding facts); ``facts`` [I, F, fact_len]; ``index`` [B]: question b's instance
    (None before ``QAModel.select``)."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    mask: torch.Tensor
    facts: torch.Tensor
    index: torch.Tensor | None = None


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


@dataclass(frozen=True)
class ModelShape:
    """Everything that fixes the model's parameters: the task's token layout and the widths."""

    vocab_size: int
    answer_size: int
    fact_len: int
    question_len: int
    d_model: int = 128
    n_heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 2
    relational: bool = True
    sink: bool = False


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

    def forward(
        self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``mask`` [N, 1 or heads, S_x, S] is added to the attention scores."""
        y = F.scaled_dot_product_attention(self.split(self.query(x)), k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).flatten(2))

    def grouped(
        self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, groups: Groups
    ) -> torch.Tensor:
        """Cross-attention from questions ``x`` [B, S, d] to their instances' ``k``, ``v``
        [I, heads, F, d_head], with ``bias`` [I, 1 or heads, width * S, F] (``Groups`` layout)."""
        q = groups.scatter(self.query(x))  # [I, width, S, d]
        width, length = q.shape[1], q.shape[2]
        y = F.scaled_dot_product_attention(self.split(q.flatten(1, 2)), k, v, attn_mask=bias)
        y = y.transpose(1, 2).flatten(2).unflatten(1, (width, length))
        return self.out(groups.gather(y))


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
    ) -> torch.Tensor:
        """``read``: the positions whose outputs are wanted (all of them attend, as keys)."""
        h = self.norm1(x)
        k, v = self.attn.keys_values(h)
        x, h = x[:, read], h[:, read]
        if self_mask is not None:
            self_mask = self_mask[:, :, read]
        x = x + self.attn(h, k, v, self_mask)
        if self.cross is not None:
            x = x + self.cross.grouped(self.norm2(x), *memory, memory_bias, groups)
        return x + self.mlp(self.norm3(x))


class QAModel(nn.Module):
    """Facts -> memory (set encoder); question tokens + memory -> answer logits (decoder)."""

    def __init__(self, shape: ModelShape, relation_prior: float = 0.0):
        """``relation_prior``: every relational bias starts at ``relation_prior * RELATION_SCALE``
        (0: no prior; the model then finds from its own gradients which slots to match)."""
        super().__init__()
        if shape.dec_layers < 1:
            raise ValueError("the decoder needs at least one layer")
        self.shape = shape
        d, h = shape.d_model, shape.n_heads
        self.embed = nn.Embedding(shape.vocab_size, d, padding_idx=PAD)
        self.fact_in = nn.Linear(shape.fact_len * d, d)
        self.question_pos = nn.Parameter(torch.randn(shape.question_len + 1, d) * 0.02)
        self.answer_slot = nn.Parameter(torch.randn(d) * 0.02)
        self.encoder = nn.ModuleList(Block(d, h, cross=False) for _ in range(shape.enc_layers))
        self.memory_norm = nn.LayerNorm(d)
        self.decoder = nn.ModuleList(Block(d, h, cross=True) for _ in range(shape.dec_layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, shape.answer_size)
        if shape.sink:  # one learned null entry per decoder layer, after the instance's facts
            self.sink = nn.Parameter(torch.randn(shape.dec_layers, d) * 0.02)
        if shape.relational:
            lf, lq = shape.fact_len, shape.question_len + 1
            # scaled so that Adam's ~lr-sized steps move a bias by RELATION_SCALE * lr
            prior = float(relation_prior)
            self.fact_relation = nn.Parameter(torch.full((shape.enc_layers, h, lf, lf), prior))
            self.question_relation = nn.Parameter(torch.full((shape.dec_layers, h, lq, lf), prior))

    def encode(self, facts: torch.Tensor) -> Memory:
        """facts [I, F, fact_len] -> per decoder layer (keys, values) [I, heads, F, d_head],
        and the additive attention mask [I, 1, 1, F] (-inf on padding facts)."""
        real = (facts != PAD).any(-1)
        mask = torch.zeros(real.shape, device=facts.device).masked_fill(~real, float("-inf"))
        mask = mask[:, None, None, :]
        same = None
        if self.shape.relational:  # same[i, f, g, a, b]: slot a of fact f == slot b of fact g
            same = (facts[:, :, None, :, None] == facts[:, None, :, None, :]).float()
            same = same * (facts != PAD)[:, :, None, :, None]
        x = self.fact_in(self.embed(facts).flatten(2))
        for layer, block in enumerate(self.encoder):
            bias = mask
            if same is not None:
                bias = mask + RELATION_SCALE * torch.einsum(
                    "ifgab,hab->ihfg", same, self.fact_relation[layer]
                )
            x = block(x, self_mask=bias)
        x = self.memory_norm(x)
        if not self.shape.sink:
            return Memory([block.cross.keys_values(x) for block in self.decoder], mask, facts)
        kv = [
            block.cross.keys_values(torch.cat([x, sink.expand(len(x), 1, -1)], dim=1))
            for block, sink in zip(self.decoder, self.sink, strict=True)
        ]
        return Memory(kv, F.pad(mask, (0, 1)), facts)

    @staticmethod
    def select(memory: Memory, index: torch.Tensor) -> Memory:
        """``memory`` for questions about instances ``index`` (one entry per question)."""
        if memory.index is not None:
            index = memory.index[index]
        return Memory(memory.kv, memory.mask, memory.facts, index)

    def answer_logits(self, memory: Memory, questions: torch.Tensor) -> torch.Tensor:
        """``memory`` selected for the questions [B, question_len] -> logits [B, answer]."""
        return self.head(self.features(memory, questions))

    def features(self, memory: Memory, questions: torch.Tensor) -> torch.Tensor:
        """The decoder's final answer-slot state [B, d_model] that the answer head reads."""
        q = self.embed(questions)
        x = torch.cat([q, self.answer_slot.expand(q.shape[0], 1, -1)], dim=1) + self.question_pos
        relation = self.question_relation if self.shape.relational else None
        return self.decode(memory, x, F.pad(questions, (0, 1)), relation, slice(-1, None))[:, 0]

    def decode(
        self,
        memory: Memory,
        x: torch.Tensor,
        tokens: torch.Tensor,
        relation: torch.Tensor | None,
        read: slice = slice(None),
    ) -> torch.Tensor:
        """Run the decoder over the embedded sequence ``x`` [B, S, d] and return the final states
        of the positions ``read`` [B, S_read, d] (the last layer computes no others).

        ``tokens`` [B, S] are the input tokens behind ``x`` (PAD where a position holds none) and
        ``relation`` [dec_layers, heads, S, fact_len] the learned bias for position p's token
        matching a fact's slot (None: no relational bias)."""
        kv, index = memory.kv, memory.index
        if index is None:
            index = torch.arange(len(memory.facts), device=x.device)
        index = index.to(device=x.device, dtype=torch.long)  # 0 <= index < instances
        groups = Groups(index, len(memory.facts))
        if groups.instances * groups.width > 2 * len(index) + 64:  # lopsided: copy per question
            kv = [(k[index], v[index]) for k, v in kv]
            groups = Groups(torch.arange(len(index), device=x.device), len(index))
        mask, facts = memory.mask[index], memory.facts[index]
        same = None
        if relation is not None:  # same[b, p, f, a]: token p == slot a of fact f
            same = (tokens[:, :, None, None] == facts[:, None, :, :]).float()
            same = same * (tokens != PAD)[:, :, None, None]
            if self.shape.sink:  # the sink holds no token: no relational bias
                same = F.pad(same, (0, 0, 0, 1))
        last = len(self.decoder) - 1
        for layer, (block, layer_kv) in enumerate(zip(self.decoder, kv, strict=True)):
            part = read if layer == last else slice(None)
            bias = mask.expand(-1, -1, len(range(x.shape[1])[part]), -1)  # [B, 1, S_part, F]
            if same is not None:
                bias = mask + RELATION_SCALE * torch.einsum(
                    "bpfa,hpa->bhpf", same[:, part], relation[layer][:, part]
                )
            bias = groups.scatter(bias).transpose(1, 2).flatten(2, 3)  # [I, *, width * S, F]
            x = block(x, memory=layer_kv, memory_bias=bias, groups=groups, read=part)
        return self.norm(x)

    def forward(
        self, facts: torch.Tensor, questions: torch.Tensor, instance: torch.Tensor
    ) -> torch.Tensor:
        """Logits for ``questions`` [B, Q]; question b is about instance ``instance[b]``."""
        return self.answer_logits(self.select(self.encode(facts), instance), questions)

    def logits_and_features(
        self, facts: torch.Tensor, questions: torch.Tensor, instance: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward``'s logits and the ``features`` they were read from."""
        h = self.features(self.select(self.encode(facts), instance), questions)
        return self.head(h), h


class BatchedAnswerer:
    """A batch function for the engine: (instance slot, question) items -> answer tokens.

    Encodes the instances' facts once, on construction, and reuses that for every question."""

    def __init__(self, model: QAModel, facts: torch.Tensor):
        self.model = model
        with torch.inference_mode():
            self.memory = model.encode(facts)
        self.device = facts.device

    def logits(self, items: list[tuple]) -> torch.Tensor:
        """Answer logits [len(items), answer_size] for (instance slot, question, ...) items."""
        slots, questions = item_tensors(items, self.device)
        with torch.inference_mode():
            return self.model.answer_logits(self.model.select(self.memory, slots), questions)

    def __call__(self, items: list[tuple[int, tuple[int, ...]]]) -> list[int]:
        return self.logits(items).argmax(-1).tolist()


def item_tensors(items: list[tuple], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Engine items (instance slot, question, ...) as tensors: slots [B] and questions [B, L]."""
    # through numpy: a few times faster than torch.tensor on lists of tuples
    slots = torch.from_numpy(np.array([item[0] for item in items], dtype=np.int64))
    questions = torch.from_numpy(np.array([item[1] for item in items], dtype=np.int64))
    return slots.to(device), questions.to(device)
