"""How likely a programs run's policy finds the generator's own program of each held-out task:
the log-probability of its statements, one edit at a time from the inputs, under the policy
(the best over the orders of the statements that keep every argument defined before use and
the output last). A best-first search over edits needs about exp(-log p) states to reach a
program of log-probability log p, so this reads the policy apart from the search.

    python benchmarks/program_policy.py runs/programs [--lengths 3 4 5] [--tasks 20]
    python benchmarks/program_policy.py --imitation 20000 --steps 3000   # the same net, trained
                                                                         # on generator programs

``--imitation N`` trains a fresh net of the run's default settings by plain imitation of N
generator programs (training split, lengths 1-4) for ``--steps`` steps and reads it instead:
what the net learns where its data are the generator's programs rather than its own searches'.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ida.core.runs.run import load_job  # noqa: E402
from ida.domains.programs.amplify import problem_of  # noqa: E402
from ida.domains.programs.config import configure  # noqa: E402
from ida.domains.programs.deepcoder import DEEPCODER  # noqa: E402
from ida.domains.programs.distill import EditRows, losses  # noqa: E402
from ida.domains.programs.encode import encode_states  # noqa: E402
from ida.domains.programs.job import make_net  # noqa: E402
from ida.domains.programs.language import Program, Statement  # noqa: E402
from ida.domains.programs.net import EditNet, to_tensors  # noqa: E402
from ida.domains.programs.search import NEW, Problem  # noqa: E402
from ida.domains.programs.simulator import Simulator  # noqa: E402
from ida.domains.programs.tasks import generate, held_out_set  # noqa: E402

L = DEEPCODER


def orders(program: Program) -> list[list[Statement]]:
    """The program's statements in every order that defines each argument before its use and
    keeps the output statement last, arguments renumbered."""
    k, n = len(program.inputs), len(program.statements)
    deps = [{a - k for a in s.args if a >= k} for s in program.statements]
    found = []
    for perm in itertools.permutations(range(n)):
        at = {j: i for i, j in enumerate(perm)}
        if perm[-1] != n - 1 or any(at[d] > at[j] for j in range(n) for d in deps[j]):
            continue
        found.append(
            [
                Statement(
                    program.statements[j].op,
                    tuple(a if a < k else k + at[a - k] for a in program.statements[j].args),
                )
                for j in perm
            ]
        )
    return found


@torch.inference_mode()
def log_prob(net: EditNet, simulator: Simulator, problem: Problem, edits) -> float:
    """The policy's log-probability of ``edits``, one at a time from the inputs."""
    env, total = list(problem.inputs), 0.0
    for edit in edits:
        b = to_tensors(encode_states(L, [env], [problem.output], net.slots), "cpu")
        h, s = net.encode(b)
        op_lp, arg_lp = net.policy(h, s, b["kinds"])
        total += float(op_lp[0, edit.op]) + sum(
            float(arg_lp[0, a, edit.op, i]) for i, a in enumerate(edit.args)
        )
        (value,) = simulator.extend([(env, edit)])
        env = [*env, value]
    return total


def imitation(n: int, steps: int, seed: int = 0) -> EditNet:
    """A fresh net trained by imitation of ``n`` generator programs (training split)."""
    torch.manual_seed(seed)
    net = make_net(configure("programs", {"device": "cpu"}))
    simulator, rng = Simulator(L), np.random.default_rng(seed)
    envs, goals, edits = [], [], []
    for _ in range(n):
        task = generate(L, int(rng.integers(1, 5)), rng, split="train")
        problem = problem_of(L, task)
        env = list(problem.inputs)
        for edit in task.program.statements:
            envs.append(env)
            goals.append(problem.output)
            edits.append(edit)
            (value,) = simulator.extend([(env, edit)])
            env = [*env, value]
    args = np.full((len(edits), 2), -1, dtype=np.int16)
    for i, e in enumerate(edits):
        args[i, : len(e.args)] = e.args
    one = np.ones(len(edits), dtype=np.float32)
    rows = EditRows(
        **encode_states(L, envs, goals, net.slots).arrays(),
        op=np.array([e.op for e in edits], dtype=np.int16),
        args=args,
        outcome=np.full(len(edits), NEW, dtype=np.int8),
        label=one,
        w_policy=one,
        w_value=0 * one,
        w_forward=0 * one,
    )
    optimizer = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-4)
    net.train()
    for step in range(steps):
        batch = rows.rows(rng.integers(0, len(rows), 256))
        loss = losses(net, batch, "cpu")["policy_loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 500 == 0:
            print(f"step {step}: policy loss {loss.item():.3f}", flush=True)
    return net.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", nargs="?", help="a programs run directory")
    p.add_argument("--lengths", type=int, nargs="+", default=[3, 4, 5])
    p.add_argument("--tasks", type=int, default=20, help="held-out tasks per length")
    p.add_argument("--seed", type=int, default=2024, help="seed of the held-out tasks")
    p.add_argument("--imitation", type=int, default=0, help="generator programs to imitate")
    p.add_argument("--steps", type=int, default=3000)
    args = p.parse_args()
    if (args.run is None) == (args.imitation == 0):
        p.error("give a run directory or --imitation N")
    started = time.perf_counter()
    if args.run is not None:
        net = load_job(args.run).distiller.teacher.eval()
    else:
        net = imitation(args.imitation, args.steps)
    simulator = Simulator(L)
    found: dict[int, list[float]] = {}
    for task in held_out_set(L, args.lengths, args.tasks, args.seed):
        problem = problem_of(L, task)
        best = max(log_prob(net, simulator, problem, o) for o in orders(task.program))
        found.setdefault(task.length, []).append(best)
    for length, values in sorted(found.items()):
        v = np.array(values)
        shares = "  ".join(f"> {c}: {(v > c).mean():4.0%}" for c in (-5, -8, -11))
        print(f"T = {length}: log p median {np.median(v):6.1f}  mean {v.mean():6.1f}  {shares}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
