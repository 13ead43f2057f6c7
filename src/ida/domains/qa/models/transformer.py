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

With ``answer_match=True`` the answer slot, which holds no token of its own, gets a relational
bias too: the sum over every question position p and fact slot a of a learned per-head weight
times [question token p is in slot a]. Without it each question position matches facts on its
own token only, and a fact that matches the question as a whole (a pattern's every fixed bit, a
pair of table keys) has to be found through the embeddings; with it the answer slot's first
cross-attention can land on exactly those facts.

With ``doubling=True`` each encoder layer after the first also biases head h towards where head
h's attention of the previous layer, applied twice, leads (a learned weight times log A^2). A head
that follows a pointer (the fact whose ``x`` is my ``y``) can then follow it two hops in the next
layer, four in the one after: L layers reach 2^(L-1) hops, where learning each computed pointer
from scratch stalled for hundreds of steps per new hop.

With ``enc_repeat=R`` the encoder's layers run R times over with the same weights (a recurrent,
"universal" transformer): R times the depth of computation at no cost in parameters, for
computations that repeat one step along the facts' links.

With ``computed_tokens=True`` each encoder layer first reads one token out of every fact's
state (a distribution over the vocabulary: a value the fact has computed), and relational
attention also matches those: the bias of f attending to g gains a learned weight (per head,
kind of link and slot) times the chance that the token computed by a fact linked to f (or by f
itself) is the token in g's slot. A fact v := f(v_j, v_k) can then find the table row whose
slots hold the values its operands computed, a lookup that keys and queries learned slowly or
never; and each layer with the same weights takes the values one level further.
A fact also computes the tokens it holds, by a learned weight per slot (``token_held``, starting
at the relation prior): a constant v := c computes c from the first layer on, which the lookups
one level up build on. ``computed_from_slot=s`` matches only g's slots s and after, through
links between slots s and after (a slot that holds a fact's kind is given, never computed, and
links every fact of a kind); ``computed_vocab`` limits what a fact can compute to those tokens
(the task's answers). Reading out kinds, variables or padding, or the mean over every fact of a
kind, is a shortcut the read-out otherwise often settles on.

With ``walk=True`` the decoder also walks those pointers. Where the first decoder layer's
cross-attention lands is a distribution over facts; for each encoder layer in turn a gate, read
from the question, decides whether to move it along that layer's attention (a learned mixture of
its heads). The last decoder layer is biased towards where the walk ends. With ``doubling`` the
layers' pointers go 1, 2, 4, ... hops, so the gates spell out a number of hops in binary: s^k(x)
is one read at the fact k - 1 hops on, where decoding it from the superposed states the encoder
left at x was slow to learn.

With ``link_walk=T`` the decoder walks the facts' token links instead, read off the tokens: no
attention to learn first. The walk starts on the facts that hold a question token in a slot (a
learned mixture of question positions and slots), moves along one kind of link (f to the facts
whose slot b holds the token in f's slot a, never from a slot to the same slot of f itself; one
walk per kind, mixed by learned weights where they end: a mixture inside each move would spread
a little further with every move), and makes t = 0..T moves, t from a softmax read from the
question (one chance per t, not a binary code that the encoder's pointers and the gates must
agree on). A move to no fact ends that part of the walk; the last decoder layer is biased by the
log of where the rest ended.

With ``reach=T`` the decoder also reads how soon the facts that hold one question token lead
to the facts that hold another, moving along links between facts: fact f links to fact g when
the token in f's slot a is in g's slot b (for shortest paths, a = 1, b = 0 links the edge (u, v)
to the edges leaving v). For every start set (question position p, slot a), end set (p', b),
kind of link and t = 0..T-1, the chance that t moves of a walk from the start set land in the
end set is a feature of the answer slot, and each fact's own chance to get to an end set in t
moves can bias the last layer's attention (learned weights). The first t with a chance above
zero is a shortest distance; the fact that gets there soonest, a first step. These features
are read off the tokens alone, so they cost no gradient, but their number grows as
T * fact_len^4 * (question_len + 1)^2: meant for facts of two or three slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ida.domains.qa.tasks.base import PAD

RELATION_SCALE = 10.0
DOUBLING_PRIOR = 0.1  # the doubling weights' start: a weak pull towards the two-hop target
FLOOR = 1e-6  # added to attention weights before their log: nothing is ruled out entirely


@dataclass(frozen=True)
class Memory:
    """Instances' encoded facts, and which instance each question reads.

    ``kv`` per decoder layer (keys, values) [I, heads, F, d_head]; ``mask`` [I, 1, 1, F] additive
    (-inf on padding facts); ``facts`` [I, F, fact_len]; ``index`` [B]: question b's instance
    (None before ``QAModel.select``); ``hops`` [I, enc_layers, F, F]: each encoder layer's
    attention, its heads mixed, for the decoder's pointer walk (or [I, kinds, F, F]: one move of
    the link walk along each kind of link; None without either); ``reach`` the tables
    ``reach_tables`` makes for the reach profile (None without ``reach``)."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    mask: torch.Tensor
    facts: torch.Tensor
    index: torch.Tensor | None = None
    hops: torch.Tensor | None = None
    reach: tuple[torch.Tensor, torch.Tensor] | None = None


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
    enc_repeat: int = 1
    computed_tokens: bool = False
    computed_from_slot: int = 0
    computed_vocab: tuple[int, ...] = ()  # the tokens a fact may compute (empty: every token)
    relational: bool = True
    sink: bool = False
    doubling: bool = False
    walk: bool = False
    link_walk: int = 0  # the most moves the link walk makes (0: no link walk)
    reach: int = 0
    answer_match: bool = False

    @property
    def reach_features(self) -> int:
        """The reach profile's inputs: start sets x end sets x kinds of link x moves."""
        sets = (self.question_len + 1) * self.fact_len
        return sets * sets * self.fact_len**2 * self.reach


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


class QAModel(nn.Module):
    """Facts -> memory (set encoder); question tokens + memory -> answer logits (decoder)."""

    def __init__(self, shape: ModelShape, relation_prior: float = 0.0):
        """``relation_prior``: every relational bias starts at ``relation_prior * RELATION_SCALE``
        (0: no prior; the model then finds from its own gradients which slots to match)."""
        super().__init__()
        if shape.dec_layers < 1:
            raise ValueError("the decoder needs at least one layer")
        if (shape.walk or shape.link_walk) and shape.dec_layers < 2:
            walk = "pointer walk" if shape.walk else "link walk"
            raise ValueError(f"the {walk} needs at least two decoder layers")
        if shape.enc_repeat < 1:
            raise ValueError("the encoder runs at least once")
        if shape.walk and shape.enc_repeat > 1:
            raise ValueError("the pointer walk reads each encoder layer once: no enc_repeat")
        if shape.computed_tokens and not shape.relational:
            raise ValueError("computed tokens join the relational bias: they need relational")
        if not 0 <= shape.computed_from_slot < shape.fact_len:
            raise ValueError(f"computed_from_slot must be below fact_len ({shape.fact_len})")
        if shape.link_walk and shape.walk:
            raise ValueError("one pointer walk at a time: walk or link_walk")
        if shape.answer_match and not shape.relational:
            raise ValueError("the answer slot's match is a relational bias: it needs relational")
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
        if shape.computed_tokens:  # per encoder layer: the token read out, and its weights
            kinds = 1 + shape.fact_len**2  # f itself, then each kind of link (slot a -> slot b)
            computable = len(shape.computed_vocab) or shape.vocab_size
            self.token_read = nn.ModuleList(
                nn.Linear(d, computable) for _ in range(shape.enc_layers)
            )
            for read in self.token_read:  # uniform at the start: no bias
                nn.init.zeros_(read.weight)
                nn.init.zeros_(read.bias)
            # per encoder layer and slot of f: the weight of a token f holds there in what f reads
            self.token_held = nn.Parameter(
                torch.full((shape.enc_layers, shape.fact_len), float(relation_prior))
            )
            first, slots = shape.computed_from_slot, torch.arange(shape.fact_len)
            given = (slots[:, None] < first) | (slots[None, :] < first)  # links by a kind slot
            self.register_buffer(
                "token_kinds", torch.cat([torch.ones(1), (~given).flatten().float()]), False
            )
            self.token_relation = nn.Parameter(
                torch.full((shape.enc_layers, h, kinds, shape.fact_len), float(relation_prior))
            )
        if shape.doubling:  # per encoder layer and head: weight of log(previous attention^2)
            self.doubling_weight = nn.Parameter(torch.full((shape.enc_layers, h), DOUBLING_PRIOR))
        if shape.walk:
            lq = shape.question_len + 1
            self.walk_start = nn.Parameter(torch.zeros(lq * h))  # mixes layer 0's cross-attention
            self.walk_heads = nn.Parameter(torch.zeros(shape.enc_layers, h))  # mixes each map
            self.walk_gate = nn.Linear(d, shape.enc_layers)  # the question's hops, per layer
        if shape.link_walk:  # where it starts, along which links, how many moves
            self.link_start = nn.Parameter(torch.zeros(shape.question_len * shape.fact_len))
            self.link_kinds = nn.Parameter(torch.zeros(shape.fact_len**2))
            self.link_moves = nn.Linear(d, shape.link_walk + 1)
        if shape.walk or shape.link_walk:  # per head: the pull towards where the walk ended
            self.walk_weight = nn.Parameter(torch.full((h,), DOUBLING_PRIOR))
        if shape.reach:
            sets, kinds = (shape.question_len + 1) * shape.fact_len, shape.fact_len**2
            self.reach_in = nn.Linear(shape.reach_features, d)
            self.reach_weight = nn.Parameter(torch.zeros(h, sets, kinds, shape.reach))
        if shape.answer_match:  # the answer slot's bias: every question token against every slot
            prior = float(relation_prior)
            lq, lf = shape.question_len, shape.fact_len
            self.answer_relation = nn.Parameter(torch.full((shape.dec_layers, h, lq, lf), prior))

    def encode(self, facts: torch.Tensor) -> Memory:
        """facts [I, F, fact_len] -> per decoder layer (keys, values) [I, heads, F, d_head],
        and the additive attention mask [I, 1, 1, F] (-inf on padding facts)."""
        shape = self.shape
        x, mask, maps = self.encode_facts(facts, attention_maps=shape.walk)
        hops = None
        if shape.walk:  # [I, enc_layers, F, F]
            hops = torch.einsum("lihfg,lh->ilfg", torch.stack(maps), self.walk_heads.softmax(-1))
        if shape.link_walk:  # [I, kinds, F, G]: one move along each kind of link
            hops = one_move(facts, moves=True)
        reach = None
        if shape.reach:
            reach = reach_tables(facts, shape.reach, shape.vocab_size, sink=shape.sink)
        if not shape.sink:
            kv = [block.cross.keys_values(x) for block in self.decoder]
            return Memory(kv, mask, facts, hops=hops, reach=reach)
        kv = [
            block.cross.keys_values(torch.cat([x, sink.expand(len(x), 1, -1)], dim=1))
            for block, sink in zip(self.decoder, self.sink, strict=True)
        ]
        return Memory(kv, F.pad(mask, (0, 1)), facts, hops=hops, reach=reach)

    def encode_facts(
        self, facts: torch.Tensor, attention_maps: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The encoder: facts [I, F, fact_len] -> states [I, F, d], the mask [I, 1, 1, F], and
        (with ``attention_maps`` or ``doubling``) each layer's attention weights [I, heads, F, F]:
        row f is where fact f looked."""
        real = (facts != PAD).any(-1)
        mask = torch.zeros(real.shape, device=facts.device).masked_fill(~real, float("-inf"))
        mask = mask[:, None, None, :]
        same = shared_slots(facts).float() if self.shape.relational else None
        x = self.fact_in(self.embed(facts).flatten(2))
        own = links = None
        if self.shape.computed_tokens:
            own = held_tokens(facts, self.shape.vocab_size, self.shape.computed_vocab)
            links = token_links(same)
        maps: list[torch.Tensor] = []
        for layer, block in list(enumerate(self.encoder)) * self.shape.enc_repeat:
            bias = mask
            if same is not None:
                bias = mask + RELATION_SCALE * torch.einsum(
                    "ifgab,hab->ihfg", same, self.fact_relation[layer]
                )
            if own is not None:
                bias = bias + self.computed_bias(layer, block.norm1(x), own, links)
            if self.shape.doubling and maps:  # two hops of each head's previous pointer
                two_hops = torch.log(maps[-1] @ maps[-1] + FLOOR)
                bias = bias + RELATION_SCALE * self.doubling_weight[layer][:, None, None] * two_hops
            if self.shape.doubling or attention_maps:
                x, weights = block(x, self_mask=bias, weights="self")
                maps.append(weights)
            else:
                x = block(x, self_mask=bias)
        return self.memory_norm(x), mask, maps

    def computed_bias(
        self, layer: int, h: torch.Tensor, own: torch.Tensor, links: torch.Tensor
    ) -> torch.Tensor:
        """The computed tokens' bias [I, heads, F, G] from the normed states ``h`` [I, F, d]:
        ``own`` [I, G, fact_len, vocab] the one-hot tokens each fact holds (``held_tokens``),
        ``links`` [I, F * kinds, G] (row means)."""
        first = self.shape.computed_from_slot  # g's slots before it are never matched
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

    @staticmethod
    def select(memory: Memory, index: torch.Tensor) -> Memory:
        """``memory`` for questions about instances ``index`` (one entry per question)."""
        if memory.index is not None:
            index = memory.index[index]
        return Memory(memory.kv, memory.mask, memory.facts, index, memory.hops, memory.reach)

    def answer_logits(self, memory: Memory, questions: torch.Tensor) -> torch.Tensor:
        """``memory`` selected for the questions [B, question_len] -> logits [B, answer]."""
        return self.head(self.features(memory, questions))

    def features(self, memory: Memory, questions: torch.Tensor) -> torch.Tensor:
        """The decoder's final answer-slot state [B, d_model] that the answer head reads."""
        q = self.embed(questions)
        x = torch.cat([q, self.answer_slot.expand(q.shape[0], 1, -1)], dim=1) + self.question_pos
        relation = self.question_relation if self.shape.relational else None
        tokens = F.pad(questions, (0, 1))
        return self.decode(memory, x, tokens, relation, slice(-1, None), pointers=True)[:, 0]

    def decode(
        self,
        memory: Memory,
        x: torch.Tensor,
        tokens: torch.Tensor,
        relation: torch.Tensor | None,
        read: slice = slice(None),
        pointers: bool = False,
    ) -> torch.Tensor:
        """Run the decoder over the embedded sequence ``x`` [B, S, d] and return the final states
        of the positions ``read`` [B, S_read, d] (the last layer computes no others).

        ``tokens`` [B, S] are the input tokens behind ``x`` (PAD where a position holds none) and
        ``relation`` [dec_layers, heads, S, fact_len] the learned bias for position p's token
        matching a fact's slot (None: no relational bias). ``pointers``: the model's pointer walk
        and reach profile join in (for the sequence ``features`` builds, answer slot last)."""
        kv, index, hops = memory.kv, memory.index, memory.hops
        if index is None:
            index = torch.arange(len(memory.facts), device=x.device)
        index = index.to(device=x.device, dtype=torch.long)  # 0 <= index < instances
        groups = Groups(index, len(memory.facts))
        if groups.instances * groups.width > 2 * len(index) + 64:  # lopsided: copy per question
            kv = [(k[index], v[index]) for k, v in kv]
            hops = None if hops is None else hops[index]
            groups = Groups(torch.arange(len(index), device=x.device), len(index))
        mask, facts = memory.mask[index], memory.facts[index]
        reaching = pointers and bool(self.shape.reach)
        linking = pointers and bool(self.shape.link_walk)
        match = same = reach = None  # match[b, p, f, a]: token p == slot a of fact f
        if relation is not None or reaching or linking:
            match = (tokens[:, :, None, None] == facts[:, None, :, :]).float()
            match = match * (tokens != PAD)[:, :, None, None]
        if reaching:
            profile, reach = self.reach_profile(match, tokens, memory.reach, index)
            x = torch.cat([x[:, :-1], x[:, -1:] + profile[:, None]], dim=1)
        if relation is not None:  # the sink holds no token: no relational bias
            same = F.pad(match, (0, 0, 0, 1)) if self.shape.sink else match
        answering = pointers and self.shape.answer_match
        last, trail = len(self.decoder) - 1, None
        for layer, (block, layer_kv) in enumerate(zip(self.decoder, kv, strict=True)):
            part = read if layer == last else slice(None)
            bias = mask.expand(-1, -1, len(range(x.shape[1])[part]), -1)  # [B, 1, S_part, F]
            if same is not None:
                bias = mask + RELATION_SCALE * torch.einsum(
                    "bpfa,hpa->bhpf", same[:, part], relation[layer][:, part]
                )
            if answering:  # the answer slot (last): how well each fact matches the question
                whole = torch.einsum("bpfa,hpa->bhf", same[:, :-1], self.answer_relation[layer])
                bias = bias + RELATION_SCALE * F.pad(
                    whole[:, :, None], (0, 0, bias.shape[2] - 1, 0)
                )
            if trail is not None and layer == last:  # towards where the walk ended
                walk_bias = self.walk_weight[:, None, None] * trail[:, None, None]  # [B, h, 1, F]
                bias = bias + RELATION_SCALE * walk_bias
            if reach is not None and layer == last:  # towards the facts that get there soonest
                bias = bias + RELATION_SCALE * reach[:, :, None]
            bias = groups.scatter(bias).transpose(1, 2).flatten(2, 3)  # [I, *, width * S, F]
            step = dict(memory=layer_kv, memory_bias=bias, groups=groups, read=part)
            if pointers and self.shape.walk and layer == 0:
                x, cross = block(x, **step, weights="cross")
                trail = self.pointer_walk(cross, x[:, -1], hops, groups)
            else:
                x = block(x, **step)
                if linking and layer == 0:
                    trail = self.link_walk(match[:, :-1], x[:, -1], hops, groups)
        return self.norm(x)

    def reach_profile(
        self,
        match: torch.Tensor,
        tokens: torch.Tensor,
        tables: tuple[torch.Tensor, torch.Tensor],
        index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The reach profile, embedded [B, d], and each fact's bias from it [B, heads, F (+1
        with the sink)], for questions ``tokens`` [B, S] about instances ``index`` [B].
        ``match`` [B, S, F, fact_len] says which facts hold the question's tokens where;
        ``tables`` are ``reach_tables``' for the instances."""
        ahead, logs = tables
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
        sets = self.reach_weight.shape[1]
        weight = self.reach_in.weight.view(-1, sets, sets, chance.shape[2])
        live_weight = weight[:, live][:, :, live].flatten(1)
        embedded = F.linear(profile, live_weight, self.reach_in.bias)
        embedded = embedded - (weight.sum((1, 2, 3)) - live_weight.sum(1))  # the dead ones' -1s
        bias = self.reach_weight[:, live].flatten(1) @ per_fact.flatten(1, 2)  # [B, heads, F]
        return embedded, bias

    def pointer_walk(
        self, cross: torch.Tensor, state: torch.Tensor, hops: torch.Tensor, groups: Groups
    ) -> torch.Tensor:
        """Log of where the walk ends [B, F (+1 with the sink)]: it starts where the first
        decoder layer's ``cross``-attention [B, S, heads, F] landed, and ``state`` [B, d] (the
        question after that layer) gates one move along each of ``hops`` [I, L, F, F]."""
        facts = hops.shape[-1]
        start = self.walk_start.softmax(-1).view(cross.shape[1], cross.shape[2])
        at = groups.scatter(torch.einsum("bshf,sh->bf", cross[..., :facts], start))  # [I, w, F]
        gates = groups.scatter(torch.sigmoid(self.walk_gate(state)))  # [I, width, L]
        for layer in range(hops.shape[1]):
            gate = gates[..., layer : layer + 1]
            at = at + gate * (at @ hops[:, layer] - at)
        return self.trail(at, groups)

    def link_walk(
        self, match: torch.Tensor, state: torch.Tensor, links: torch.Tensor, groups: Groups
    ) -> torch.Tensor:
        """Log of where the link walk ends [B, F (+1 with the sink)]. It starts on the facts that
        hold a question token ``match`` [B, question_len, F, fact_len] in a slot (a learned
        mixture of positions and slots), makes t = 0..T moves along one kind of ``links``
        [I, kinds, F, F] (one walk per kind, mixed by learned weights at the end), t read from
        the question's ``state`` [B, d], and ends spread over where each t led, weighted by its
        chance."""
        found = match / match.sum(2, keepdim=True).clamp(min=1)  # each (p, a) over its facts
        start = (RELATION_SCALE * self.link_start).softmax(-1).view(match.shape[1], -1)
        at = groups.scatter(torch.einsum("bpfa,pa->bf", found, start))  # [I, width, F]
        moves = groups.scatter(self.link_moves(state).softmax(-1))  # [I, width, T + 1]
        kinds = (RELATION_SCALE * self.link_kinds).softmax(-1)
        at = at[:, None].expand(-1, len(kinds), -1, -1)  # [I, kinds, width, F]
        ends = moves[:, None, :, :1] * at
        for t in range(1, moves.shape[-1]):
            at = at @ links
            ends = ends + moves[:, None, :, t : t + 1] * at
        return self.trail(torch.einsum("ikwf,k->iwf", ends, kinds), groups)

    def trail(self, end: torch.Tensor, groups: Groups) -> torch.Tensor:
        """A walk's end [I, width, F] (``Groups`` layout) -> its log per question [B, F (+1 with
        the sink, which no walk reaches)]."""
        trail = torch.log(groups.gather(end) + FLOOR)
        return F.pad(trail, (0, int(self.shape.sink)), value=float(np.log(FLOOR)))

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


def shared_slots(facts: torch.Tensor, moves: bool = False) -> torch.Tensor:
    """facts [I, F, fact_len] -> [I, F, G, a, b]: slot a of fact f holds the token in slot b of
    fact g (padding shares nothing). With ``moves``, a fact's slot a does not share with its own
    slot a (a move along that stays put), but with its own slot b it does (a move: the fixed
    point s(x) = x links (x, x) to itself)."""
    real = (facts != PAD)[:, :, None, :, None]
    same = (facts[:, :, None, :, None] == facts[:, None, :, None, :]) & real
    if moves:
        n, slots = facts.shape[1], facts.shape[2]
        itself = torch.eye(n, dtype=torch.bool, device=facts.device)[:, :, None, None]
        same = same & ~(itself & torch.eye(slots, dtype=torch.bool, device=facts.device))
    return same


def link_means(same: torch.Tensor) -> torch.Tensor:
    """``shared_slots`` [I, F, G, a, b] (as floats), each (f, a, b) spread evenly over the facts g
    it links: a mean over the facts whose slot b holds the token in f's slot a (none: zeros)."""
    return same / same.sum(2, keepdim=True).clamp(min=1)


def held_tokens(facts: torch.Tensor, vocab_size: int, tokens: tuple[int, ...] = ()) -> torch.Tensor:
    """facts [I, G, fact_len] -> one-hot [I, G, fact_len, vocab], over ``tokens`` only if given
    (then [..., len(tokens)]); a padding slot holds nothing (matching it finds short facts)."""
    held = F.one_hot(facts, vocab_size).float() * (facts != PAD)[..., None]
    return held[..., list(tokens)] if tokens else held


def token_links(same: torch.Tensor) -> torch.Tensor:
    """``shared_slots`` [I, F, G, a, b] (as floats) -> [I, F * kinds, G]: row (f, kind) spreads
    evenly over the facts f links to by that kind: kind 0 is f itself, kind 1 + a * fact_len + b
    the facts whose slot b holds the token in f's slot a."""
    links = link_means(same)
    itself = torch.eye(same.shape[1], device=same.device).expand(len(same), -1, -1)
    links = torch.cat([itself[..., None], links.flatten(3)], dim=-1)
    return links.transpose(2, 3).flatten(1, 2)


def one_move(facts: torch.Tensor, moves: bool = False) -> torch.Tensor:
    """facts [I, F, fact_len] -> [I, fact_len^2, F, G]: row f of kind a * fact_len + b spreads
    evenly over the facts whose slot b holds the token in f's slot a (none: zeros); ``moves`` as
    in ``shared_slots``. Read off the tokens: no gradient."""
    with torch.no_grad():
        means = link_means(shared_slots(facts, moves=moves).float())
        return means.permute(0, 3, 4, 1, 2).flatten(1, 2)


def link_moves(facts: torch.Tensor, steps: int) -> torch.Tensor:
    """facts [I, F, fact_len] -> [I, fact_len^2, steps, F, F]: row f of entry (a * fact_len + b,
    t) is where t moves lead from fact f, each move spreading evenly over the facts whose slot b
    holds the token of the mover's slot a (no such fact: the walk stops). A fact's slot a links
    to its own slot a here (the reach profile counts staying put as a move)."""
    move = one_move(facts)  # [I, kinds, F, G]
    power = torch.eye(facts.shape[1], device=facts.device).expand_as(move)
    powers = [power]
    for _ in range(steps - 1):
        power = power @ move
        powers.append(power)
    return torch.stack(powers, dim=2)


def reach_tables(
    facts: torch.Tensor, steps: int, vocab: int, sink: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The chances the reach profile reads, for every token a question could hold (read off the
    tokens: no gradient): ``ahead`` [I, fact_len, vocab, kinds * T, F], where (b, v, (kind, t),
    f) is the chance that t moves of that kind lead from fact f to a fact holding v in slot b,
    and its log(chance + FLOOR) / -log(FLOOR) in [-1, 0], with one more fact for the ``sink``,
    which gets nowhere (-1)."""
    with torch.no_grad():
        links = link_moves(facts, steps).flatten(1, 2)  # [I, kinds * T, F, G]
        holds = held_tokens(facts, vocab)  # [I, G, fact_len, vocab]
        ahead = torch.einsum("ixfg,igbv->ibvxf", links, holds)
        logs = torch.log(F.pad(ahead, (0, 1 if sink else 0)) + FLOOR) / -np.log(FLOOR)
        return ahead, logs
