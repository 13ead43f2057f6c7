"""The model A: a transformer that reads an instance's facts once and answers many questions.

``encode`` turns each instance's facts (a set: no positions) into a memory, and projects it
once into every decoder layer's cross-attention keys and values. ``answer_logits`` reads a
batch of questions, each pointing at its instance's memory, and scores every answer token.
Encoding (and projecting) once per instance and reusing it for all of its questions and
subquestions is what makes amplification and training cheap.

Attention is relational: it also sees which tokens two facts (or a question and a fact) share,
through a learned per-head bias for every pair of token slots that hold the same token. That is
the relation every algorithmic task is made of (a pointer ``y`` in one fact names the ``x`` of
another). ``relation_prior`` starts every such bias above zero (attend to facts that share a
token) instead of at zero, which removes the plateau before the first lookup is learned.

With ``enc_repeat = R`` the encoder's layers run R times over with the same weights (a
recurrent, "universal" transformer): R times the depth of computation at no cost in parameters.

The optional mechanisms (``mechanisms/``: computed tokens, the answer slot's match, the link
walk, the reach profile) plug in through ``Mechanism``'s hooks, and the attention sink, which
changes the memory's shape, through its own two methods; each is on when its table is in the
config, ``[model.link_walk]`` say, and is the model's attribute by that name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import nn
from torch.nn import functional as F

from ida.core.layers import RELATION_SCALE, Block, Groups
from ida.domains.qa.models.links import shared_slots
from ida.domains.qa.models.mechanisms.answer_match import AnswerMatch, AnswerMatchSettings
from ida.domains.qa.models.mechanisms.attention_sink import AttentionSink, AttentionSinkSettings
from ida.domains.qa.models.mechanisms.base import Mechanism, Reading
from ida.domains.qa.models.mechanisms.computed_tokens import (
    ComputedTokens,
    ComputedTokensSettings,
)
from ida.domains.qa.models.mechanisms.link_walk import LinkWalk, LinkWalkSettings
from ida.domains.qa.models.mechanisms.reach import ReachProfile, ReachSettings
from ida.domains.qa.tasks.base import PAD

MECHANISMS = ("attention_sink", "computed_tokens", "answer_match", "link_walk", "reach")


class ModelSettings(BaseModel):
    """``[model]``: the widths and depths, the relation prior, and a table per mechanism that
    is on (absent, or ``false``: off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_model: int = Field(128, ge=8)
    n_heads: int = Field(4, ge=1)
    enc_layers: int = Field(2, ge=0)
    enc_repeat: int = Field(
        1, ge=1, description="passes through the encoder's layers, same weights (recurrence)"
    )
    dec_layers: int = Field(2, ge=1)
    relation_prior: float = Field(
        0.0, ge=0, description="relational biases start at 10x this (0: none)"
    )
    attention_sink: AttentionSinkSettings | None = None
    computed_tokens: ComputedTokensSettings | None = None
    answer_match: AnswerMatchSettings | None = None
    link_walk: LinkWalkSettings | None = None
    reach: ReachSettings | None = None

    @field_validator(*MECHANISMS, mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        """``true`` turns a mechanism on with its default settings, ``false`` turns it off."""
        if value is True:
            return {}
        return None if value is False else value

    @model_validator(mode="after")
    def _check(self) -> ModelSettings:
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.link_walk is not None and self.dec_layers < 2:
            raise ValueError("link_walk needs dec_layers >= 2: it walks after the first layer")
        return self


@dataclass(frozen=True)
class ModelShape:
    """Everything that fixes the model's parameters: the task's token layout and the settings.
    ``computed_vocab``: the tokens computed tokens may be (empty: every token)."""

    vocab_size: int
    answer_size: int
    fact_len: int
    question_len: int
    settings: ModelSettings = field(default_factory=ModelSettings)
    computed_vocab: tuple[int, ...] = ()
    relational: bool = True

    @property
    def d_model(self) -> int:
        return self.settings.d_model

    def with_settings(self, **changes: Any) -> ModelShape:
        """This shape with some settings changed (a mechanism set to None: off)."""
        settings = ModelSettings.model_validate({**self.settings.model_dump(), **changes})
        return ModelShape(**{**self.__dict__, "settings": settings})


@dataclass(frozen=True)
class Memory:
    """Instances' encoded facts, and which instance each question reads.

    ``kv`` per decoder layer (keys, values) [I, heads, F, d_head]; ``mask`` [I, 1, 1, F] additive
    (-inf on padding facts); ``facts`` [I, F, fact_len]; ``index`` [B]: question b's instance
    (None before ``QAModel.select``); ``tables``: what each mechanism remembered, by name."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    mask: torch.Tensor
    facts: torch.Tensor
    index: torch.Tensor | None = None
    tables: dict[str, Any] = field(default_factory=dict)


class QAModel(nn.Module):
    """Facts -> memory (set encoder); question tokens + memory -> answer logits (decoder)."""

    def __init__(self, shape: ModelShape):
        super().__init__()
        self.shape = s = shape
        m = s.settings
        d, h, prior = m.d_model, m.n_heads, float(m.relation_prior)
        if not s.relational and (m.computed_tokens is not None or m.answer_match is not None):
            raise ValueError("computed tokens and the answer slot's match need relational bias")
        self.embed = nn.Embedding(s.vocab_size, d, padding_idx=PAD)
        self.fact_in = nn.Linear(s.fact_len * d, d)
        self.question_pos = nn.Parameter(torch.randn(s.question_len + 1, d) * 0.02)
        self.answer_slot = nn.Parameter(torch.randn(d) * 0.02)
        self.encoder = nn.ModuleList(Block(d, h, cross=False) for _ in range(m.enc_layers))
        self.memory_norm = nn.LayerNorm(d)
        self.decoder = nn.ModuleList(Block(d, h, cross=True) for _ in range(m.dec_layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, s.answer_size)
        self.attention_sink = None
        if m.attention_sink is not None:
            self.attention_sink = AttentionSink(m.attention_sink, m.dec_layers, d)
        if s.relational:  # scaled so that Adam's ~lr-sized steps move a bias by RELATION_SCALE * lr
            lf, lq = s.fact_len, s.question_len + 1
            self.fact_relation = nn.Parameter(torch.full((m.enc_layers, h, lf, lf), prior))
            self.question_relation = nn.Parameter(torch.full((m.dec_layers, h, lq, lf), prior))
        self.computed_tokens = self.answer_match = self.link_walk = self.reach = None
        if m.computed_tokens is not None:
            self.computed_tokens = ComputedTokens(
                m.computed_tokens, m.enc_layers, h, d, s.vocab_size, s.fact_len,
                s.computed_vocab, prior,
            )  # fmt: skip
        if m.answer_match is not None:
            self.answer_match = AnswerMatch(
                m.answer_match, m.dec_layers, h, s.question_len, s.fact_len, prior
            )
        if m.link_walk is not None:
            lq = s.question_len
            self.link_walk = LinkWalk(m.link_walk, h, d, lq, s.fact_len)
        if m.reach is not None:
            self.reach = ReachProfile(
                m.reach,
                h,
                d,
                s.vocab_size,
                s.fact_len,
                s.question_len,
                m.attention_sink is not None,
            )
        self.mechanisms: list[Mechanism] = [
            part
            for part in (self.computed_tokens, self.answer_match, self.link_walk, self.reach)
            if part is not None
        ]

    @property
    def sink(self) -> int:
        """1 with the attention sink (one more memory entry), else 0."""
        return int(self.attention_sink is not None)

    def encode(self, facts: torch.Tensor) -> Memory:
        """facts [I, F, fact_len] -> per decoder layer (keys, values) [I, heads, F, d_head],
        the additive attention mask [I, 1, 1, F] (-inf on padding facts) and the mechanisms'
        tables."""
        x, mask, _ = self.encode_facts(facts)
        tables = {part.name: part.remember(facts) for part in self.mechanisms}
        tables = {name: table for name, table in tables.items() if table is not None}
        if self.attention_sink is None:
            kv = [block.cross.keys_values(x) for block in self.decoder]
            return Memory(kv, mask, facts, tables=tables)
        sink = self.attention_sink
        kv = [block.cross.keys_values(sink.extend(i, x)) for i, block in enumerate(self.decoder)]
        return Memory(kv, sink.open(mask), facts, tables=tables)

    def encode_facts(
        self, facts: torch.Tensor, attention_maps: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The encoder: facts [I, F, fact_len] -> states [I, F, d], the mask [I, 1, 1, F], and
        (with ``attention_maps``) each layer's attention weights [I, heads, F, F]: row f is
        where fact f looked."""
        real = (facts != PAD).any(-1)
        mask = torch.zeros(real.shape, device=facts.device).masked_fill(~real, float("-inf"))
        mask = mask[:, None, None, :]
        same = shared_slots(facts).float() if self.shape.relational else None
        x = self.fact_in(self.embed(facts).flatten(2))
        prepared = [(part, part.prepare(facts, same)) for part in self.mechanisms]
        maps: list[torch.Tensor] = []
        for layer, block in list(enumerate(self.encoder)) * self.shape.settings.enc_repeat:
            bias = mask
            if same is not None:
                bias = mask + RELATION_SCALE * torch.einsum(
                    "ifgab,hab->ihfg", same, self.fact_relation[layer]
                )
            for part, state in prepared:
                if state is not None:
                    bias = bias + part.encoder_bias(layer, block.norm1(x), state)
            if attention_maps:
                x, weights = block(x, self_mask=bias, weights="self")
                maps.append(weights)
            else:
                x = block(x, self_mask=bias)
        return self.memory_norm(x), mask, maps

    @staticmethod
    def select(memory: Memory, index: torch.Tensor) -> Memory:
        """``memory`` for questions about instances ``index`` (one entry per question)."""
        if memory.index is not None:
            index = memory.index[index]
        return Memory(memory.kv, memory.mask, memory.facts, index, memory.tables)

    def answer_logits(self, memory: Memory, questions: torch.Tensor) -> torch.Tensor:
        """``memory`` selected for the questions [B, question_len] -> logits [B, answer]."""
        return self.head(self.features(memory, questions))

    def features(self, memory: Memory, questions: torch.Tensor) -> torch.Tensor:
        """The decoder's final answer-slot state [B, d_model] that the answer head reads."""
        q = self.embed(questions)
        x = torch.cat([q, self.answer_slot.expand(q.shape[0], 1, -1)], dim=1) + self.question_pos
        relation = self.question_relation if self.shape.relational else None
        tokens = F.pad(questions, (0, 1))
        return self.decode(memory, x, tokens, relation, slice(-1, None), mechanisms=True)[:, 0]

    def decode(
        self,
        memory: Memory,
        x: torch.Tensor,
        tokens: torch.Tensor,
        relation: torch.Tensor | None,
        read: slice = slice(None),
        mechanisms: bool = False,
    ) -> torch.Tensor:
        """Run the decoder over the embedded sequence ``x`` [B, S, d] and return the final states
        of the positions ``read`` [B, S_read, d] (the last layer computes no others).

        ``tokens`` [B, S] are the input tokens behind ``x`` (PAD where a position holds none) and
        ``relation`` [dec_layers, heads, S, fact_len] the learned bias for position p's token
        matching a fact's slot (None: no relational bias). ``mechanisms``: the decoder's
        mechanisms join in (for the sequence ``features`` builds, answer slot last)."""
        kv, index = memory.kv, memory.index
        if index is None:
            index = torch.arange(len(memory.facts), device=x.device)
        index = index.to(device=x.device, dtype=torch.long)  # 0 <= index < instances
        groups = Groups(index, len(memory.facts))
        lopsided = groups.instances * groups.width > 2 * len(index) + 64
        if lopsided:  # copy keys and values per question instead
            kv = [(k[index], v[index]) for k, v in kv]
            groups = Groups(torch.arange(len(index), device=x.device), len(index))
        mask, facts = memory.mask[index], memory.facts[index]
        parts = self.mechanisms if mechanisms else []
        match = same = None  # match[b, p, f, a]: token p == slot a of fact f
        if relation is not None or any(part.reads_links for part in parts):
            match = (tokens[:, :, None, None] == facts[:, None, :, :]).float()
            match = match * (tokens != PAD)[:, :, None, None]
        reading = Reading(tokens, match, index, groups, lopsided, memory.tables, self.sink)
        for part in parts:
            extra = part.answer_input(reading)
            if extra is not None:
                x = torch.cat([x[:, :-1], x[:, -1:] + extra[:, None]], dim=1)
        if relation is not None:  # the sink holds no token: no relational bias
            same = F.pad(match, (0, 0, 0, 1)) if self.sink else match
        last = len(self.decoder) - 1
        for layer, (block, layer_kv) in enumerate(zip(self.decoder, kv, strict=True)):
            part_read = read if layer == last else slice(None)
            bias = mask.expand(-1, -1, len(range(x.shape[1])[part_read]), -1)  # [B, 1, S_part, F]
            if same is not None:
                bias = mask + RELATION_SCALE * torch.einsum(
                    "bpfa,hpa->bhpf", same[:, part_read], relation[layer][:, part_read]
                )
            for part in parts:
                extra = part.decoder_bias(layer, layer == last, reading)
                if extra is not None:
                    bias = bias + extra
            bias = groups.scatter(bias).transpose(1, 2).flatten(2, 3)  # [I, *, width * S, F]
            x = block(x, memory=layer_kv, memory_bias=bias, groups=groups, read=part_read)
            for part in parts:
                part.after_layer(layer, x, reading)
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
