"""The learned parts of the search, one net with four heads over a shared encoder of the state.

- the encoder reads every variable's values next to the goal's, example by example, and pools
  over examples (a variable's embedding) and over variables (the state's);
- **policy** p(edit | examples, partial program, its values): an op, then each argument
  variable given the op (a pointer over the variables of the right type);
- **value** (the world model's similarity metric): the chance that the state lies on the way
  to a solution, which orders the search;
- **forward model**: for an edit not yet simulated, what running it would give (an invalid
  value, a value some variable already has, or a new one), which decides whether it is worth a
  simulator call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ida.domains.programs.encode import MAX_EXAMPLES, StateArrays

OUTCOMES = ("invalid", "repeat", "new")  # what the forward model predicts of an edit


class NetSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(128, ge=8, description="embedding width")
    token_width: int = Field(8, ge=1, description="embedding width of one integer")
    slots: int = Field(11, ge=2, description="variables a state can hold (inputs included)")


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def masked_max(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    return x.masked_fill(~mask.unsqueeze(-1), -1e4).amax(dim).clamp_min(-1e3)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1)


class EditNet(nn.Module):
    """Policy, value and forward model over states of a language with ``ops`` operations
    (``op_slots``: the kind each op's argument slots want) and ``tokens`` integer tokens."""

    def __init__(self, tokens: int, max_len: int, op_slots: torch.Tensor, s: NetSettings):
        super().__init__()
        d, self.slots = s.width, s.slots
        self.register_buffer("op_slots", op_slots.long(), persistent=False)
        ops = len(op_slots)
        self.embed = nn.Embedding(tokens, s.token_width, padding_idx=0)
        self.value_in = nn.Linear(max_len * s.token_width + 4, d)
        self.pair = mlp([3 * d + 2, d, d])
        self.position = nn.Embedding(s.slots, d)  # how many variables came after this one
        self.state = mlp([3 * d, d, d])
        self.op_head = nn.Linear(d, ops)
        self.arg_head = mlp([2 * d, d, 2 * ops])
        self.value_head = mlp([d, d, 1])
        # the forward model's first layer, split by input so that scoring every candidate
        # edit of a state costs one gather-and-add each (``outcomes``)
        self.fw_op = nn.Embedding(ops, d)
        self.fw_first = nn.Linear(d, d)
        self.fw_second = nn.Linear(d, d, bias=False)
        self.fw_state = nn.Linear(d, d, bias=False)
        self.fw_out = nn.Linear(d, len(OUTCOMES))

    def _values(self, tokens, kinds, lengths) -> torch.Tensor:
        """An embedding per value: (..., L) tokens -> (..., d)."""
        emb = self.embed(tokens.long()).flatten(-2)
        kind = F.one_hot(kinds.long(), 3).to(emb.dtype)
        length = lengths.unsqueeze(-1).to(emb.dtype) / 20.0
        return F.relu(self.value_in(torch.cat([emb, kind, length], -1)))

    def variables(self, tokens, kinds, lengths, goal_tokens, goal_kind, goal_lengths, examples):
        """One embedding (N, d) per (value, goal) pair: the value next to the goal on each
        example, pooled over the examples. ``tokens`` (N, E, L), ``kinds`` (N,), ``lengths``
        (N, E), the goal's the same, ``examples`` (N, E) the real example rows."""
        n, e = lengths.shape
        var = self._values(tokens, kinds.unsqueeze(-1).expand(n, e), lengths)  # N E d
        goal = self._values(goal_tokens, goal_kind.unsqueeze(-1).expand(n, e), goal_lengths)
        same_kind = (kinds == goal_kind).unsqueeze(-1).expand(n, e)
        equal = same_kind & (lengths == goal_lengths) & (tokens == goal_tokens).all(-1)
        flags = torch.stack([same_kind, equal], -1).to(var.dtype)
        pairs = self.pair(torch.cat([var, goal, var * goal, flags], -1))  # N E d
        return masked_max(pairs, examples, 1)

    def goal_summary(self, goal_tokens, goal_kind, goal_lengths, examples) -> torch.Tensor:
        """The goal's embedding (N, d), averaged over the examples."""
        n, e = goal_lengths.shape
        goal = self._values(goal_tokens, goal_kind.unsqueeze(-1).expand(n, e), goal_lengths)
        return masked_mean(goal, examples, 1)

    def combine(self, raw, kinds, goal) -> tuple[torch.Tensor, torch.Tensor]:
        """Each variable's embedding ``h`` (B, V, d) and the state's ``s`` (B, d) from the
        variables' pair embeddings ``raw`` (B, V, d), their ``kinds`` (B, V; 0: no variable)
        and the goal's summary (B, d)."""
        v = kinds.shape[1]
        present = kinds > 0
        count = present.sum(1, keepdim=True)
        age = (count - 1 - torch.arange(v, device=raw.device)).clamp(0, self.slots - 1)
        h = F.relu(raw + self.position(age))
        s = self.state(torch.cat([masked_mean(h, present, 1), masked_max(h, present, 1), goal], -1))
        return h, F.relu(s)

    def encode(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``h`` and ``s`` (see ``combine``) of a batch of states (``StateArrays`` tensors)."""
        n, v = b["kinds"].shape
        e = MAX_EXAMPLES

        def per_variable(x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B * V, ...)
            return x.unsqueeze(1).expand(n, v, *x.shape[1:]).reshape(n * v, *x.shape[1:])

        raw = self.variables(
            b["tokens"].reshape(n * v, e, -1),
            b["kinds"].reshape(n * v),
            b["lengths"].reshape(n * v, e),
            per_variable(b["goal_tokens"]),
            per_variable(b["goal_kind"]),
            per_variable(b["goal_lengths"]),
            per_variable(b["examples"]),
        ).view(n, v, -1)
        goal = self.goal_summary(b["goal_tokens"], b["goal_kind"], b["goal_lengths"], b["examples"])
        return self.combine(raw, b["kinds"], goal)

    def policy(self, h, s, kinds) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of each op (B, O) and of each variable in each argument slot
        given the op (B, V, O, 2); ops whose arguments no variable fits get -inf."""
        n, v, _ = h.shape
        ops = len(self.op_slots)
        args = self.arg_head(torch.cat([h, s.unsqueeze(1).expand_as(h)], -1)).view(n, v, ops, 2)
        fits = kinds.long().view(n, v, 1, 1) == self.op_slots.view(1, 1, ops, 2)  # B V O 2
        arg_lp = torch.log_softmax(args.masked_fill(~fits, -1e9), dim=1)
        unused = self.op_slots.view(1, 1, ops, 2) == 0
        arg_lp = torch.where(unused, torch.zeros_like(arg_lp), arg_lp)
        possible = (fits.any(1) | (self.op_slots == 0).unsqueeze(0)).all(-1)  # B O
        op_lp = torch.log_softmax(self.op_head(s).masked_fill(~possible, -1e9), -1)
        return op_lp.masked_fill(~possible, float("-inf")), arg_lp

    def value(self, s) -> torch.Tensor:
        """The similarity metric as a logit (B,): is this state on the way to the goal?"""
        return self.value_head(s).squeeze(-1)

    def outcome(self, h, s, op, args) -> torch.Tensor:
        """The forward model's logits (N, 3) over ``OUTCOMES`` for edits ``op`` (N,) with
        argument variables ``args`` (N, 2; -1 for none) of states with embeddings ``h``
        (N, V, d) and ``s`` (N, d)."""
        return self.outcomes(h, s, op.unsqueeze(1), args.unsqueeze(1)).squeeze(1)

    def outcomes(self, h, s, op, args) -> torch.Tensor:
        """The forward model's logits (B, K, 3) for K edits of each state: ``op`` (B, K),
        ``args`` (B, K, 2)."""
        rows = torch.arange(len(h), device=h.device).unsqueeze(1)
        first = self.fw_first(h)[rows, args[..., 0].clamp_min(0)]
        second = self.fw_second(h)[rows, args[..., 1].clamp_min(0)]
        second = second * (args[..., 1] >= 0).unsqueeze(-1)
        z = self.fw_op(op) + first + second + self.fw_state(s).unsqueeze(1)
        return self.fw_out(F.relu(z))


def to_tensors(states: StateArrays, device) -> dict[str, torch.Tensor]:
    """The arrays as tensors, cut to the variable slots some state of the batch uses."""
    used = max(1, int((states.kinds > 0).sum(1).max(initial=1)))
    out = {k: torch.from_numpy(a).to(device) for k, a in states.arrays().items()}
    for key in ("tokens", "kinds", "lengths"):
        out[key] = out[key][:, :used]
    return out
