"""The model A: reads an instance's sentences once and answers questions about them by following
relations from the question's name through the instance's facts, then says the entity it
reached by copying its words from the facts.

``encode`` finds the *mentions* in each sentence (runs of words of names: "Ada Brook", "Lumen
Ltd") and the instance's *entities* (its distinct mentions); it reads each sentence on its own
(a small transformer, positions relative) and turns each fact into two directed edges between
its two mentions (first -> second and back), each with a learned *relation key* read from the
sentence around them, and the chance that the first mention is the fact's subject, read from
each mention in context and from the plain words before, between and after the two (in "X is
Y's manager" and "Y's manager is X" the same words stand in other stretches). The memory is
that graph: edges, keys, directions and the entities' words.

``forward`` and ``generate`` read a question (a small transformer, each word also told how far
it is from the name and from the question's ends) into one *relation query* per hop: attention
over the question's words other than the name (each hop steered away from the words earlier
hops read) picks words, whose own vectors are the query. The hop count follows from the same
reads: each hop after the first may instead read *no word* (a learned score against the
words'), and the question has k hops when hops 2..k read a word and hop k + 1 reads none, so
the count is the number of relation phrases found rather than a guess from the sentence's
shape. With ``content_gate`` each word's own (context-free) readability is added to every
hop's score, so a word that never names a relation is not read wherever it stands; with
``filler_insertion`` training questions get *filler* words (those of several relations'
templates: "the", "who", "person") put between their words at random, so that no such word, in
any place, can mark a relation or a hop. The answer starts on the question's name (exact
match of its words against the instance's entities) and moves, hop by hop, along the edges from
where it is, each edge weighted by how well its key matches the hop's query and how likely it
runs from subject to object (a softmax over the edges that leave the same entity); the answers
after each number of hops are mixed by the hop count's probabilities. The result is
a distribution over the instance's entities; the answer is the likeliest entity's words
(``generate``), and ``forward`` gives the same distribution as teacher-forced word logits.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn
from torch.nn import functional as F

from ida.core.layers import Block, RelativeBias
from ida.domains.text.graph import Memory, Spans
from ida.domains.text.questions import MAX_HOPS
from ida.domains.text.words import ANSWER_LEN, END, NAME_LEN, PAD

NEG = -1e9  # an additive mask: never attended (finite, so a row of padding stays defined)
TINY = 1e-9  # the least probability an entity has (its log stays finite)
MENTIONS = 2  # names a fact sentence holds


class ModelSettings(BaseModel):
    """``[model]``: widths, depths, the reach of relative positions and the hops."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_model: int = Field(64, ge=8)
    n_heads: int = Field(4, ge=1)
    enc_layers: int = Field(1, ge=1, description="layers that read each fact sentence")
    dec_layers: int = Field(2, ge=1, description="layers that read the question")
    max_distance: int = Field(8, ge=1, description="relative positions further are the same")
    hops: int = Field(MAX_HOPS, ge=1, description="the most relations one answer follows")
    word_dropout: float = Field(
        0.25, ge=0, lt=1, description="share of non-name words blanked in training"
    )
    content_gate: bool = Field(
        False, description="a hop reads a word by what the word is as well as where it is"
    )
    filler_insertion: float = Field(
        0.15,
        ge=0,
        lt=1,
        description="chance, per question word, that a filler word is put before it in training",
    )

    @model_validator(mode="after")
    def _check(self) -> ModelSettings:
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        return self


def mean_over(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean [N, d] of the vectors x [N, L, d] where ``mask`` [N, L] holds (none: zeros)."""
    w = mask.to(x.dtype)[..., None]
    return (x * w).sum(1) / w.sum(1).clamp(min=1)


class TextModel(nn.Module):
    """Facts [I, F, L] -> memory (a graph); question + memory -> a distribution over the
    instance's entities, said as words."""

    def __init__(
        self,
        vocab_size: int,
        settings: ModelSettings | None = None,
        names: torch.Tensor | None = None,
        fillers: torch.Tensor | None = None,
    ):
        """``names``: which tokens [vocab_size] are words of names (the mentions and entities
        are runs of them; none: no names, so nothing to answer); ``fillers``: which are words
        that name no relation by themselves (put into questions in training with
        ``filler_insertion``)."""
        super().__init__()
        self.settings = s = settings or ModelSettings()
        d, h = s.d_model, s.n_heads
        names = torch.zeros(vocab_size, dtype=torch.bool) if names is None else names
        self.register_buffer("names", names.bool(), persistent=False)
        fillers = torch.zeros(vocab_size, dtype=torch.bool) if fillers is None else fillers
        self.register_buffer("filler_ids", fillers.bool().nonzero().view(-1), persistent=False)
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, d)
        nn.init.normal_(self.embed.weight, std=0.02)  # a word never trained stays near blank
        self.present = nn.Parameter(torch.randn(d) * d**-0.5)  # added to every word
        self.distance = nn.Embedding(2 * s.max_distance + 1, d)  # a question word from the name
        self.encoder = nn.ModuleList(Block(d, h, cross=False) for _ in range(s.enc_layers))
        self.reader = nn.ModuleList(Block(d, h, cross=False) for _ in range(s.dec_layers))
        self.fact_positions = RelativeBias(h, s.max_distance)
        self.positions = RelativeBias(h, s.max_distance)
        self.fact_norm, self.norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.edge = nn.Sequential(nn.Linear(2 * d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.subject = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1))
        # which mention is the subject, from the words before, between and after the two
        self.order = nn.Sequential(nn.Linear(3 * d, d), nn.GELU(), nn.Linear(d, 1))
        self.register_buffer("sides", torch.tensor([1.0, -1.0]), persistent=False)
        self.hop_queries = nn.Parameter(torch.randn(s.hops, d) * d**-0.5)
        self.attend_key, self.attend_value = nn.Linear(d, d), nn.Linear(d, d)
        self.coverage = nn.Parameter(torch.tensor(2.0))  # how much a read word is avoided
        self.stop = nn.Parameter(torch.zeros(s.hops))  # the score of reading no word (no hop)
        self.edges = nn.Embedding(s.max_distance + 1, d)  # a question word from its start
        self.ends = nn.Embedding(s.max_distance + 1, d)  # a question word from its end
        # the content gate: how readable a word is by itself, its context aside
        self.content = nn.Linear(d, 1) if s.content_gate else None

    # reading words

    def spans(self, tokens: torch.Tensor, most: int) -> Spans:
        """The first ``most`` names in each row of ``tokens`` [N, L]."""
        n, length = tokens.shape
        named = self.names[tokens]
        before = torch.cat([named.new_zeros(n, 1), named[:, :-1]], dim=1)
        start = named & ~before
        which = torch.where(named, start.long().cumsum(1) - 1, -1)
        at = torch.arange(length, device=tokens.device).expand(n, -1)
        began = torch.where(start, at, 0).cummax(1).values
        place = (at - began).clamp(max=NAME_LEN - 1)
        digit = tokens * self.vocab_size ** (NAME_LEN - 1 - place)
        kept = named & (which < most)
        slot = torch.where(kept, which, most)  # a spare column for the rest
        keys = tokens.new_zeros(n, most + 1).scatter_add_(1, slot, torch.where(kept, digit, 0))
        lengths = tokens.new_zeros(n, most + 1).scatter_add_(1, slot, kept.long())
        return Spans(torch.where(kept, which, -1), keys[:, :most], lengths[:, :most])

    def words(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word vectors [N, L, d]; in training a ``word_dropout`` share of the words that are
        not names are blanked (as a word never seen in training is)."""
        x = self.embed(tokens)
        p = self.settings.word_dropout
        if self.training and p > 0:
            drop = (torch.rand(tokens.shape, device=tokens.device) < p) & ~self.names[tokens]
            x = x.masked_fill(drop[..., None], 0.0)
        return x + self.present

    def insert_fillers(self, tokens: torch.Tensor) -> torch.Tensor:
        """Left-padded questions [B, S] with, before each word (not inside a name), a random
        filler word at chance ``filler_insertion``; still left-padded [B, S + most added]."""
        p = self.settings.filler_insertion
        if p == 0 or not len(self.filler_ids):
            return tokens
        b, length = tokens.shape
        named = self.names[tokens]
        inside = named & torch.cat([named.new_zeros(b, 1), named[:, :-1]], dim=1)
        put = (torch.rand(tokens.shape, device=tokens.device) < p) & (tokens != PAD) & ~inside
        added = put.long().cumsum(1)
        total = added[:, -1:]
        most = int(total.max())
        at = torch.arange(length, device=tokens.device) + added + (most - total)
        out = tokens.new_full((b, length + most), PAD).scatter_(1, at, tokens)
        chosen = torch.randint(len(self.filler_ids), tokens.shape, device=tokens.device)
        rows = torch.arange(b, device=tokens.device)[:, None].expand(b, length)
        out[rows[put], at[put] - 1] = self.filler_ids[chosen[put]]
        return out

    def read(self, blocks, positions, x, tokens) -> torch.Tensor:
        pad = torch.where(tokens == PAD, NEG, 0.0)[:, None, None, :]
        bias = positions(tokens.shape[1])[None] + pad
        for block in blocks:
            x = block(x, self_mask=bias)
        return x

    # the facts

    def encode(self, facts: torch.Tensor) -> Memory:
        """facts [I, F, L] (PAD rows: no fact) -> the instances' graphs."""
        n, f, length = facts.shape
        rows = facts.flatten(0, 1)
        spans = self.spans(rows, MENTIONS)
        x = self.words(rows)
        x = self.fact_norm(self.read(self.encoder, self.fact_positions, x, rows))
        member = (spans.which[:, :, None] == torch.arange(MENTIONS, device=facts.device)).float()
        size = member.sum(1).clamp(min=1)[..., None]  # [N, 2, 1]
        mentions = member.transpose(1, 2) @ x / size  # [N, 2, d]: each name's words, averaged
        sentence = mean_over(x, rows != PAD)
        pair = (spans.lengths > 0).all(1)  # a fact: two names
        relation = self.edge(torch.cat([mentions.sum(1), sentence], dim=-1))  # [N, d]
        first = self.subject(mentions).squeeze(-1) @ self.sides  # [N]: first is subject
        first = first + self.order(self.segments(x, rows, spans)).squeeze(-1)
        direction = torch.stack([first, -first], dim=1)  # [N, 2]: logits of each edge
        keys = relation[:, None].expand(-1, 2, -1)

        # the entities: distinct names per instance, numbered in each from 0
        base = self.vocab_size**NAME_LEN
        instance = torch.arange(n, device=facts.device).repeat_interleave(f)[:, None]
        found = torch.where(pair[:, None], instance * base + spans.keys, -1)  # [N, 2]
        unique, inverse = torch.unique(found, return_inverse=True)
        real = unique >= 0
        owner = torch.where(real, unique // base, n)
        counts = torch.bincount(owner, minlength=n + 1)[:n]
        first = counts.cumsum(0) - counts
        width = max(int(counts.max()) if n else 1, 1)
        local = torch.where(real, torch.arange(len(unique), device=facts.device)
                            - first[owner.clamp(max=n - 1)], 0)  # fmt: skip
        names = facts.new_full((n, width), -1)
        names[owner[real], local[real]] = unique[real] % base
        slot = local[inverse]  # [N, 2]: each mention's entity in its instance
        source = torch.stack([slot[:, 0], slot[:, 1]], dim=1).view(n, 2 * f)
        target = torch.stack([slot[:, 1], slot[:, 0]], dim=1).view(n, 2 * f)
        valid = pair[:, None].expand(-1, 2).reshape(n, 2 * f)
        keys, direction = keys.reshape(n, 2 * f, -1), F.logsigmoid(direction).view(n, 2 * f)
        return Memory(source, target, keys, direction, valid, names, self.spell(names))

    def segments(self, x: torch.Tensor, rows: torch.Tensor, spans: Spans) -> torch.Tensor:
        """The mean word vector [N, 3 * d] before the first name, between the two names and
        after the second, in each sentence (names and padding left out; none: zeros)."""
        at = torch.arange(rows.shape[1], device=rows.device).expand_as(rows)
        (start, end), (start2, end2) = spans.extent(0), spans.extent(1)
        plain = (rows != PAD) & (spans.which < 0)
        parts = [at < start, (at > end) & (at < start2), at > end2]
        return torch.cat([mean_over(x, part & plain) for part in parts], -1)

    def spell(self, names: torch.Tensor) -> torch.Tensor:
        """Entity keys [..., N] -> their words, END, then PAD [..., N, ANSWER_LEN]."""
        power = self.vocab_size ** torch.arange(NAME_LEN - 1, -1, -1, device=names.device)
        digits = names.clamp(min=0)[..., None] // power % self.vocab_size  # [..., N, NAME_LEN]
        out = names.new_full((*names.shape, ANSWER_LEN), PAD)
        out[..., :NAME_LEN] = digits
        length = (digits != PAD).sum(-1, keepdim=True)
        out.scatter_(-1, length.clamp(max=ANSWER_LEN - 1), END)
        return torch.where((names >= 0)[..., None], out, PAD)

    # the questions

    def queries(self, questions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """questions [B, S] -> the key of the name each is about [B], the relation query of
        each hop [B, hops, d] and the log-probability of each hop count [B, hops]."""
        if self.training:
            questions = self.insert_fillers(questions)
        b, length = questions.shape
        spans = self.spans(questions, 1)
        named = spans.which == 0
        at = torch.arange(length, device=questions.device).expand(b, -1)
        start, end = spans.extent(0)
        offset = torch.where(at < start, at - start, torch.where(at > end, at - end, 0))
        offset = torch.where(named.any(1, keepdim=True), offset, 0)
        reach = self.settings.max_distance
        real = questions != PAD
        first = torch.where(real, at, length).min(1, keepdim=True).values
        last = torch.where(real, at, -1).max(1, keepdim=True).values
        words = self.words(questions)
        x = words + self.distance(offset.clamp(-reach, reach) + reach)
        x = x + self.edges((at - first).clamp(0, reach)) + self.ends((last - at).clamp(0, reach))
        x = self.norm(self.read(self.reader, self.positions, x, questions))
        pad = ~real | self.names[questions]  # a name is no relation's word
        keys, values = self.attend_key(x), self.attend_value(words)  # read: the words themselves
        readable = 0.0 if self.content is None else F.logsigmoid(self.content(words)).squeeze(-1)
        covered = torch.zeros_like(questions, dtype=x.dtype)
        found, stops = [], []
        for hop in range(self.settings.hops):
            scores = keys @ self.hop_queries[hop] / x.shape[-1] ** 0.5 - self.coverage * covered
            scores = scores + readable
            scores = scores.masked_fill(pad, NEG)
            # a hop after the first may read no word: then the question has no more hops
            none = self.stop[hop].expand(b, 1) if hop else scores.new_full((b, 1), NEG)
            stops.append(torch.cat([scores, none], 1).log_softmax(-1)[:, -1])
            weights = scores.softmax(-1)
            covered = covered + weights
            found.append((weights[..., None] * values).sum(1))
        # P(k hops) = P(hops 2..k read a word) * P(hop k + 1 reads none)
        stop = torch.stack(stops[1:] + [scores.new_zeros(b)], 1)  # [B, hops]: log P(hop k+1 none)
        go = torch.log(-torch.expm1(stop[:, :-1].clamp(max=-TINY)))  # [B, hops - 1]: log(1 - P)
        went = torch.cat([go.new_zeros(b, 1), go.cumsum(1)], 1)
        return spans.keys[:, 0], torch.stack(found, 1), went + stop

    def answer(self, memory: Memory, index: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [B, N] of each entity of question b's instance ``index[b]`` being
        its answer (empty entity slots: about log TINY)."""
        name, queries, counts = self.queries(questions)
        names = memory.names[index]  # [B, N]
        real = names >= 0
        at = (names == name[:, None]) & real
        at = torch.where(at.any(1, keepdim=True), at, real).float()  # no such name: anywhere
        at = at / at.sum(1, keepdim=True).clamp(min=1)
        source, target = memory.source[index], memory.target[index]
        keys, valid = memory.keys[index], memory.valid[index]
        direction = memory.direction[index]
        scale = keys.shape[-1] ** -0.5
        said = []
        for hop in range(queries.shape[1]):
            scores = (keys @ queries[:, hop, :, None]).squeeze(-1) * scale + direction
            scores = scores.masked_fill(~valid, NEG)
            top = torch.full_like(at, NEG).scatter_reduce(1, source, scores, "amax")
            weights = torch.exp(scores - top.gather(1, source)) * valid
            total = torch.zeros_like(at).scatter_add(1, source, weights)
            weights = weights / total.gather(1, source).clamp(min=TINY)
            at = torch.zeros_like(at).scatter_add(1, target, at.gather(1, source) * weights)
            said.append(at)
        mixed = (torch.stack(said, -1) * counts.exp()[:, None]).sum(-1)  # over hop counts
        return mixed.clamp(min=TINY).log().masked_fill(~real, NEG)

    def loss(
        self, memory: Memory, index: torch.Tensor, questions: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The cross-entropy [B] of each question's target answer (tokens [B, ANSWER_LEN])
        among its instance's entities, and whether the target is one of them [B] (the
        cross-entropy of those that are not is 0)."""
        logp = self.answer(memory, index, questions)
        match = (memory.words[index] == targets[:, None]).all(-1)  # [B, N]
        known = match.any(1)
        chosen = (logp * match).sum(1)
        return torch.where(known, -chosen, 0.0), known

    def forward(
        self, memory: Memory, index: torch.Tensor, questions: torch.Tensor, answers: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced log-probabilities [B, T, vocab] of each answer word given the
        words before it in ``answers`` [B, T] (the entity distribution, marginalised over
        the entities whose words agree so far); question b is about instance ``index[b]``."""
        logp = self.answer(memory, index, questions)
        words = memory.words[index]  # [B, N, ANSWER_LEN]
        length = answers.shape[1]
        if length > ANSWER_LEN:
            words = torch.cat([words, words.new_full((*words.shape[:2], length - ANSWER_LEN),
                                                     PAD)], dim=-1)  # fmt: skip
        words = words[..., :length]
        same = (words == answers[:, None]).long()
        agree = torch.cat([torch.ones_like(same[..., :1]), same[..., :-1].cumprod(-1)], -1)
        mass = logp.exp()[..., None] * agree  # [B, N, T]
        out = torch.zeros(*answers.shape, self.vocab_size, device=answers.device)
        out.scatter_add_(2, words.transpose(1, 2), mass.transpose(1, 2))
        out = out.clamp(min=TINY).log()
        return out - out.logsumexp(-1, keepdim=True)

    @torch.inference_mode()
    def generate(
        self, memory: Memory, index: torch.Tensor, questions: torch.Tensor
    ) -> torch.Tensor:
        """Answers [B, ANSWER_LEN]: the likeliest entity's words, END, then PAD."""
        best = self.answer(memory, index, questions).argmax(1)
        return memory.words[index, best]
