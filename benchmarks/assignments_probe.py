"""Where a sequential_assignments model's encoder looks: operands and table rows, by depth.

    python benchmarks/assignments_probe.py RUN_DIR [--instances 64] [--json FILE]

To compute v := f(v_j, v_k) the encoder's fact for v must gather its first operand's value and
its second's apart (two heads, or one head each time), then find the table row f(a, b) for those
values: a lookup keyed by computed values, not by tokens. For the run's reported weights (see
``eval_weights``) and fresh instances, this prints, per depth of v (operands distinct) and per
encoder layer, each head's mean attention mass from v's fact on the fact defining v_j, on the
one defining v_k, and on the table row f(value(v_j), value(v_k)). Uniform attention puts about
1/32 on each at size 16.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from runner import probe_job, probe_main

from ida.domains.qa.tasks.sequential_assignments import APPLY, CONST, TABLE, VAR

TARGETS = ("first operand", "second operand", "table row")


def probe(run_dir: str | Path, instances: int = 64, seed: int = 123) -> dict:
    """Mean attention mass [depth][layer][target] -> per-head list, and the run's label."""
    job = probe_job(run_dir, "sequential_assignments")
    task, model = job.task, job.weights().eval()
    rng = np.random.default_rng(seed)
    insts = [task.sample_instance(rng) for _ in range(instances)]
    facts = torch.from_numpy(np.stack([inst.facts for inst in insts])).to(job.device)
    with torch.no_grad():
        _, _, maps = model.encode_facts(facts, attention_maps=True)
    maps = [m.cpu().numpy() for m in maps]  # per layer [I, heads, F, F]
    mass: dict[int, list[list[np.ndarray]]] = {}
    for n, inst in enumerate(insts):
        prog, rows = inst.data, inst.facts
        value = [task.solve(inst, task.value_question(i)) for i in range(task.size)]
        row_of = {int(r[1]) - VAR: k for k, r in enumerate(rows) if r[0] in (APPLY, CONST)}
        table_row = {
            (int(r[1]) - task.val0, int(r[2]) - task.val0): k
            for k, r in enumerate(rows)
            if r[0] == TABLE
        }
        for v, row in row_of.items():
            j, k = (int(a) for a in prog.args[v])
            if prog.const[v] >= 0 or j == k:
                continue
            targets = [row_of[j], row_of[k], table_row[(value[j], value[k])]]
            per_layer = [m[n, :, row, targets] for m in maps]  # [targets, heads]
            mass.setdefault(int(prog.depth[v]), []).append(per_layer)
    table = {
        depth: np.mean(np.array(rows), axis=0).round(3).tolist() for depth, rows in mass.items()
    }
    return {"run": str(run_dir), "instances": instances, "mass": dict(sorted(table.items()))}


def markdown(result: dict) -> str:
    lines = [
        f"{result['run']} ({result['instances']} instances): attention mass per head",
        "",
        "| depth | layer | " + " | ".join(TARGETS) + " |",
        "|---|---|" + "---|" * len(TARGETS),
    ]
    for depth, layers in result["mass"].items():
        for layer, targets in enumerate(layers):
            cells = [" ".join(f"{h:.2f}" for h in heads) for heads in targets]
            lines.append(f"| {depth} | {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    probe_main(__doc__, "a sequential_assignments run directory", probe, markdown)
