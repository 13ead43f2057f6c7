"""The baselines the learned search is compared with: the enumerators (``enumeration``) and
DeepCoder's method (Balog et al., 2017): an attribute net predicts the ops of the program from
the examples, and "sort and add" runs ``depth_first`` over the most probable ops, adding the
next op whenever that space is exhausted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ida.domains.programs.amplify import problem_of
from ida.domains.programs.encode import MAX_EXAMPLES, encode_states
from ida.domains.programs.enumeration import bottom_up, depth_first, depth_first_space
from ida.domains.programs.language import Language, Program
from ida.domains.programs.net import masked_max, masked_mean, mlp
from ida.domains.programs.search import Found, Problem
from ida.domains.programs.tasks import Task, generate

SLOTS = 3  # inputs the attribute net reads (tasks have at most three)
BASELINES = ("bottom_up", "depth_first", "deepcoder")


class AttributeNet(nn.Module):
    """DeepCoder's attribute net: from a task's examples alone, logits (multi-label) of which
    ops its program uses. Each value is embedded (tokens, kind, length); an example is its
    inputs' and output's embeddings through an MLP; examples are pooled (mean and max)."""

    def __init__(
        self, language: Language, width: int = 64, hidden: int = 256, token_width: int = 8
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(language.high - language.low + 2, token_width, padding_idx=0)
        self.value_in = nn.Linear(language.max_len * token_width + 4, width)
        self.example = mlp([(SLOTS + 1) * width, hidden, hidden])
        self.head = mlp([2 * hidden, hidden, len(language.ops)])

    def _values(self, tokens, kinds, lengths) -> torch.Tensor:
        emb = self.embed(tokens.long()).flatten(-2)
        kind = F.one_hot(kinds.long(), 3).to(emb.dtype)
        length = lengths.unsqueeze(-1).to(emb.dtype) / 20.0
        return F.relu(self.value_in(torch.cat([emb, kind, length], -1)))

    def forward(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits (B, ops) from ``encode_states`` arrays as tensors (``SLOTS`` slots)."""
        n, v, e = b["lengths"].shape
        inputs = self._values(b["tokens"], b["kinds"].unsqueeze(-1).expand(n, v, e), b["lengths"])
        output = self._values(
            b["goal_tokens"], b["goal_kind"].unsqueeze(-1).expand(n, e), b["goal_lengths"]
        )
        x = torch.cat([inputs.transpose(1, 2).flatten(2), output], -1)  # B E (V+1)d
        h = F.relu(self.example(x))
        mask = b["examples"]
        return self.head(torch.cat([masked_mean(h, mask, 1), masked_max(h, mask, 1)], -1))


def _arrays(language: Language, problems: Sequence[Problem], device) -> dict[str, torch.Tensor]:
    """The net's input for ``problems``: their first ``SLOTS`` inputs, ``MAX_EXAMPLES`` rows."""
    rows = slice(0, MAX_EXAMPLES)
    envs = [[v.rows(rows) for v in p.inputs[:SLOTS]] for p in problems]
    goals = [p.output.rows(rows) for p in problems]
    states = encode_states(language, envs, goals, SLOTS)
    return {k: torch.from_numpy(a).to(device) for k, a in states.arrays().items()}


def _targets(language: Language, programs: Sequence[Program]) -> np.ndarray:
    """Which ops each program uses, (n, ops) floats."""
    y = np.zeros((len(programs), len(language.ops)), dtype=np.float32)
    for i, program in enumerate(programs):
        y[i, [s.op for s in program.statements]] = 1.0
    return y


def train_attributes(
    language: Language,
    steps: int,
    rng: np.random.Generator,
    batch: int = 128,
    max_length: int = 4,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    progress: Callable[[int, float], None] | None = None,
    chunk: int = 16,
    reuse: int = 4,
) -> AttributeNet:
    """An ``AttributeNet`` trained ``steps`` steps (binary cross-entropy) on fresh train-split
    tasks of lengths uniform in 1..``max_length``, generated ``chunk`` batches at a time; each
    task serves ``reuse`` steps (reshuffled: generating tasks costs more than a step).
    ``progress(step, loss)`` after every step."""
    net = AttributeNet(language).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    step = 0
    while step < steps:
        wanted = min(chunk, -(-(steps - step) // reuse)) * batch
        tasks = [
            generate(language, int(rng.integers(1, max_length + 1)), rng, held_out=0)
            for _ in range(wanted)
        ]
        x = _arrays(language, [problem_of(language, t) for t in tasks], device)
        y = torch.from_numpy(_targets(language, [t.program for t in tasks])).to(device)
        for _ in range(reuse):
            order = torch.from_numpy(rng.permutation(wanted)).to(device)
            for start in range(0, wanted, batch):
                if step == steps:
                    break
                index = order[start : start + batch]
                logits = net({k: a[index] for k, a in x.items()})
                loss = F.binary_cross_entropy_with_logits(logits, y[index])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                step += 1
                if progress is not None:
                    progress(step, loss.item())
    net.eval()
    return net


@torch.no_grad()
def predict_ops(
    language: Language, net: AttributeNet, problems: Sequence[Problem], batch: int = 1024
) -> np.ndarray:
    """The net's probability of each op (n, ops) for each problem, in batches."""
    net.eval()
    device = next(net.parameters()).device
    out = np.zeros((len(problems), len(language.ops)), dtype=np.float32)
    for start in range(0, len(problems), batch):
        x = _arrays(language, problems[start : start + batch], device)
        out[start : start + batch] = torch.sigmoid(net(x)).cpu().numpy()
    return out


def recall_at(language: Language, net: AttributeNet, tasks: Sequence[Task], k: int = 5) -> float:
    """The mean, over tasks, of the share of their program's ops among the net's top ``k``."""
    probs = predict_ops(language, net, [problem_of(language, t) for t in tasks])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    shares = [
        len({s.op for s in t.program.statements} & set(row.tolist()))
        / len({s.op for s in t.program.statements})
        for t, row in zip(tasks, top, strict=True)
    ]
    return float(np.mean(shares))


def deepcoder(
    language: Language,
    net: AttributeNet | None,
    problem: Problem,
    budget: int,
    max_length: int = 5,
    seconds: float = math.inf,
    start: int = 5,
    probabilities: np.ndarray | None = None,
) -> Found:
    """DeepCoder's "sort and add": ``depth_first`` over the ``start`` ops the net finds most
    probable; each time that space is exhausted unsolved, the next op is added and the search
    restarts (every restart's calls count). ``probabilities`` (ops,): the net's prediction, if
    already made (``predict_ops``), else ``net`` makes it."""
    started = time.perf_counter()
    if probabilities is None:
        probabilities = predict_ops(language, net, [problem])[0]
    order = np.argsort(-np.asarray(probabilities), kind="stable").tolist()
    calls, k = 0, min(start, len(order))
    while True:
        left = seconds - (time.perf_counter() - started)
        found, exhausted = depth_first_space(
            language, problem, budget - calls, max_length, left, order[:k]
        )
        calls += found.calls
        if found.program is not None or not exhausted or k == len(order):
            return Found(found.program, calls, time.perf_counter() - started)
        k += 1


def run_baseline(
    name: str,
    language: Language,
    problem: Problem,
    budget: int,
    seconds: float = math.inf,
    max_length: int = 5,
    net: AttributeNet | None = None,
    probabilities: np.ndarray | None = None,
) -> Found:
    """The baseline called ``name`` (one of ``BASELINES``) on ``problem``; ``deepcoder`` needs
    ``net`` or the net's ``probabilities`` for this problem."""
    if name == "bottom_up":
        return bottom_up(language, problem, budget, max_length, seconds)
    if name == "depth_first":
        return depth_first(language, problem, budget, max_length, seconds)
    if name == "deepcoder":
        if net is None and probabilities is None:
            raise ValueError("deepcoder needs a net or its probabilities")
        return deepcoder(language, net, problem, budget, max_length, seconds, 5, probabilities)
    raise ValueError(f"unknown baseline {name!r}; one of {', '.join(BASELINES)}")
