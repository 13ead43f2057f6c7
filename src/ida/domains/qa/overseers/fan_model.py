"""H': a learned imitation of the overseer's weak HCH steps, fan-out and fan-in in one network.

Input: an instance's facts, the question Q, and what H has been told so far, up to two
answered subquestions (SQ_i, A_i); fan-out is the case with none. Output: H's next step, as a
kind (answer / one subquestion / two subquestions), an answer token, and the tokens of two
subquestions in canonical (sorted) order.

Swap symmetry is built in, not learned: the two answered subquestions are laid out with the
*same* position embeddings (and the same relational bias), and nothing else tells them apart,
so the decoder's self-attention sees them as a set, and every output is unchanged when they
are swapped. The facts encoder, token embedding, decoder and answer head are a ``QAModel``'s.

Sequence layout (L = question_len): Q (L) | SQ_1 (L) A_1 | SQ_2 (L) A_2 | answer slot |
2L subquestion-token slots. An empty subquestion slot holds PAD tokens and a NONE answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ida.domains.qa.models.transformer import Memory, ModelShape, QAModel
from ida.domains.qa.tasks.base import PAD, Answered, Step

ANSWER, ONE, TWO = 0, 1, 2  # the kinds of step


class FanModel(nn.Module):
    """(facts, Q, answered subquestions) -> H's next step, invariant to the subquestions' order."""

    def __init__(self, shape: ModelShape):
        super().__init__()
        self.shape = shape
        self.net = QAModel(shape)
        d, length = shape.d_model, shape.question_len
        ids = [*range(length), *[*range(length, 2 * length + 1)] * 2]  # Q, then both pairs alike
        ids += range(2 * length + 1, 4 * length + 2)  # answer slot, subquestion-token slots
        self.register_buffer("position_ids", torch.tensor(ids), persistent=False)
        self.positions = nn.Parameter(torch.randn(4 * length + 2, d) * 0.02)
        self.answer_embed = nn.Embedding(shape.answer_size + 1, d)  # last row: NONE (empty slot)
        self.kind_head = nn.Linear(d, 3)
        self.token_head = nn.Linear(d, shape.vocab_size)
        self.relation = None
        if shape.relational:
            self.relation = nn.Parameter(
                torch.zeros(
                    shape.settings.dec_layers,
                    shape.settings.n_heads,
                    4 * length + 2,
                    shape.fact_len,
                )
            )

    def forward(
        self,
        facts: torch.Tensor,
        questions: torch.Tensor,
        answered: torch.Tensor,
        instance: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits for the step after ``answered`` on ``questions`` (see ``logits``); question b is
        about instance ``instance[b]``."""
        net = self.net
        return self.logits(net.select(net.encode(facts), instance), questions, answered)

    def logits(
        self, memory: Memory, questions: torch.Tensor, answered: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``memory`` selected for the questions; ``answered`` [B, 2, L + 1]: each slot's
        subquestion tokens, then its answer (NONE: ``answer_size``). Logits: kind [B, 3],
        answer [B, answer_size] and subquestion tokens [B, 2, L, vocab]."""
        net, length = self.net, self.shape.question_len
        subs, answers = answered[..., :length], answered[..., length]
        pairs = torch.cat([net.embed(subs), self.answer_embed(answers)[:, :, None]], dim=2)
        b = questions.shape[0]
        slots = self.positions.new_zeros(b, 2 * length + 1, self.shape.d_model)
        x = torch.cat([net.embed(questions), pairs.flatten(1, 2), slots], dim=1)
        x = x + self.positions[self.position_ids]
        tokens = torch.cat(
            [
                questions,
                F.pad(subs, (0, 1)).flatten(1),  # an answer is no input token
                questions.new_full((b, 2 * length + 1), PAD),
            ],
            dim=1,
        )
        relation = None if self.relation is None else self.relation[:, :, self.position_ids]
        h = net.decode(memory, x, tokens, relation, slice(3 * length + 2, None))
        token_logits = self.token_head(h[:, 1:]).unflatten(1, (2, length))  # after the answer slot
        return self.kind_head(h[:, 0]), net.head(h[:, 0]), token_logits


def encode_answered(answered: Answered, length: int, none: int) -> np.ndarray:
    """Two (subquestion tokens, answer) rows [2, L + 1]; empty slots PAD with answer ``none``."""
    rows = np.full((2, length + 1), PAD, dtype=np.int64)
    rows[:, length] = none
    for i, (sub, answer) in enumerate(answered):
        rows[i, :length], rows[i, length] = sub, answer
    return rows


def encode_step(step: Step, length: int) -> tuple[int, int, np.ndarray]:
    """H's step as training targets: (kind, answer or 0, subquestion tokens [2, L], sorted)."""
    subs = np.full((2, length), PAD, dtype=np.int64)
    if not isinstance(step, tuple):
        return ANSWER, int(step), subs
    for i, sub in enumerate(sorted(step)):
        subs[i] = sub
    return (ONE if len(step) == 1 else TWO), 0, subs


def fan_loss(
    logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    kind: torch.Tensor,
    answer: torch.Tensor,
    subs: torch.Tensor,
) -> torch.Tensor:
    """Cross-entropy to H's step: its kind, its answer (where it answers) and its subquestions'
    tokens (where it asks them)."""
    kind_logits, answer_logits, token_logits = logits
    loss = F.cross_entropy(kind_logits, kind)
    answers = kind == ANSWER
    if answers.any():
        loss = loss + F.cross_entropy(answer_logits[answers], answer[answers])
    asked = _asked(kind)
    if asked.any():
        loss = loss + F.cross_entropy(token_logits[asked].flatten(0, 1), subs[asked].flatten())
    return loss


def step_accuracy(
    logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    kind: torch.Tensor,
    answer: torch.Tensor,
    subs: torch.Tensor,
) -> torch.Tensor:
    """Per row, whether the most likely step is exactly H's: kind, answer or subquestions."""
    kind_logits, answer_logits, token_logits = logits
    right = kind_logits.argmax(-1) == kind
    right &= (kind != ANSWER) | (answer_logits.argmax(-1) == answer)
    tokens_right = (token_logits.argmax(-1) == subs).all(-1) | ~_asked(kind)
    return right & tokens_right.all(-1)


def _asked(kind: torch.Tensor) -> torch.Tensor:
    """[B, 2]: which subquestion slots a step of ``kind`` fills."""
    return torch.stack([kind >= ONE, kind == TWO], dim=1)


def decode_steps(
    logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor], last: Sequence[bool]
) -> list[Step]:
    """The most likely step for each row; rows marked ``last`` must answer."""
    kind_logits, answer_logits, token_logits = logits
    kinds = kind_logits.argmax(-1).tolist()
    answers = answer_logits.argmax(-1).tolist()
    tokens = token_logits.argmax(-1).tolist()
    steps: list[Step] = []
    for kind, answer, subs, final in zip(kinds, answers, tokens, last, strict=True):
        if kind == ANSWER or final:
            steps.append(int(answer))
        else:
            steps.append(tuple(tuple(sub) for sub in subs[:kind]))
    return steps
