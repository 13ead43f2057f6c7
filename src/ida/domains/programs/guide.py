"""The net as the search's batched advisor: for each state, the edits worth trying, best first,
with the policy's log-probability, the forward model's chance that simulating the edit gives a
new value, and the similarity metric's value of the state.

``make_guide`` returns the batch function searches await (``Call(guide, [(env, goal), ...])``);
the engine answers the states of every search in flight with one forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ida.core.engine import BatchFn
from ida.domains.programs.encode import KIND, pair_arrays
from ida.domains.programs.language import Language, Values
from ida.domains.programs.net import OUTCOMES, EditNet

NEW = OUTCOMES.index("new")
UNFIT = -1e8  # scores below this are edits whose arguments do not fit
FORWARD = 32  # the edits of a state the forward model judges (the rest are simulated)


@dataclass
class Advice:
    """A state's candidate edits, best first: ``ops`` (K,), ``args`` (K, 2; -1: none), the
    policy's ``logp`` (K,), the forward model's ``new`` (K,): the chance the edit's value is
    valid and not already a variable's; and ``value``: the chance the state leads to its goal."""

    ops: np.ndarray
    args: np.ndarray
    logp: np.ndarray
    new: np.ndarray
    value: float

    def __len__(self) -> int:
        return len(self.ops)


def make_guide(
    net: EditNet,
    language: Language,
    max_children: int,
    device: torch.device | str = "cpu",
    forward_model: bool = True,
) -> BatchFn:
    """The batch function ``[(env, goal), ...] -> [Advice, ...]``; ``net`` in eval mode.
    Without ``forward_model`` every edit's ``new`` is 1 (and the head is not run)."""
    slots = net.slots

    made = object()  # this guide's mark on the embeddings it caches

    def embedded(value: Values, goal: Values) -> torch.Tensor | None:
        for owner, of, row in value.__dict__.get("_embedded", ()):
            if owner is made and of is goal:
                return row
        return None

    def remember(value: Values, goal: Values, row: torch.Tensor) -> None:
        value.__dict__.setdefault("_embedded", []).append((made, goal, row))

    @torch.inference_mode()
    def guide(items: Sequence[tuple[list[Values], Values]]) -> list[Advice]:
        # each (variable, goal) pair is embedded once, the first time a state holds it: a new
        # state costs the encoder one variable, not all of them
        missing: dict[tuple[int, int], tuple[Values, Values]] = {}
        for env, goal in items:
            for value in env[:slots]:
                if embedded(value, goal) is None:
                    missing.setdefault((id(value), id(goal)), (value, goal))
            if embedded(goal, goal) is None:
                missing.setdefault((id(goal), id(goal)), (goal, goal))
        if missing:
            pairs = list(missing.values())
            a = {k: torch.from_numpy(x).to(device) for k, x in pair_arrays(language, pairs).items()}
            rows = net.variables(**a)
            summaries = net.goal_summary(
                a["goal_tokens"], a["goal_kind"], a["goal_lengths"], a["examples"]
            )
            for k, (value, goal) in enumerate(pairs):
                remember(value, goal, summaries[k] if value is goal else rows[k])
        n = len(items)
        v = min(slots, max(len(env) for env, _ in items))
        kinds = torch.zeros(n, v, dtype=torch.long)
        where, rows_, goals = [], [], []
        for i, (env, goal) in enumerate(items):
            for k, value in enumerate(env[:v]):
                where.append((i, k))
                rows_.append(embedded(value, goal))
                kinds[i, k] = KIND[value.type]
            goals.append(embedded(goal, goal))
        raw = torch.zeros(n, v, rows_[0].shape[-1], device=device)
        index = torch.tensor(where, device=device)
        raw[index[:, 0], index[:, 1]] = torch.stack(rows_)
        kinds = kinds.to(device)
        h, s = net.combine(raw, kinds, torch.stack(goals))
        op_lp, arg_lp = net.policy(h, s, kinds)
        n, v, ops, _ = arg_lp.shape
        # score of (op, first, second) with second == v meaning "no second argument"
        second = torch.cat([arg_lp[..., 1], torch.zeros(n, 1, ops, device=h.device)], 1)
        binary = (net.op_slots[:, 1] > 0).view(1, 1, ops)
        none = torch.arange(v + 1, device=h.device).view(1, v + 1, 1) == v
        second = torch.where(binary == none, torch.full_like(second, -1e9), second)
        grid = op_lp.view(n, ops, 1, 1) + arg_lp[..., 0].permute(0, 2, 1).unsqueeze(-1)
        grid = (grid + second.permute(0, 2, 1).unsqueeze(2)).nan_to_num(neginf=-1e9)
        k = min(max_children, grid[0].numel())
        logp, index = grid.reshape(n, -1).topk(k, dim=1)
        op = index // (v * (v + 1))
        first = (index // (v + 1)) % v
        sec = index % (v + 1)
        args = torch.stack([first, torch.where(sec == v, -1, sec)], -1)
        new = torch.ones_like(logp)
        if forward_model:  # for the first FORWARD edits: searches seldom go further down
            top = min(k, FORWARD)
            predicted = net.outcomes(h, s, op[:, :top], args[:, :top])
            new[:, :top] = torch.softmax(predicted, -1)[..., NEW]
        value = torch.sigmoid(net.value(s))
        fit = (logp > UNFIT).cpu().numpy()
        ops_, args_ = op.cpu().numpy().astype(np.int16), args.cpu().numpy().astype(np.int16)
        logp_, new_ = logp.float().cpu().numpy(), new.float().cpu().numpy()
        values = value.float().cpu().tolist()
        return [
            Advice(ops_[i][fit[i]], args_[i][fit[i]], logp_[i][fit[i]], new_[i][fit[i]], values[i])
            for i in range(n)
        ]

    return guide
