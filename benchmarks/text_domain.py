"""The text domain's benchmark: IDA against the supervised baseline on ``text_kb``, 1 to 4
hops, accuracy by hops on the training templates and on held-out ones, and the wall time.

    python benchmarks/text_domain.py                  # both modes, one after the other
    python benchmarks/text_domain.py --jobs 2         # both at once, one thread each
    python benchmarks/text_domain.py --report         # the table, from finished runs

Each run is ``ida train text_kb --mode MODE --out runs/text_kb-MODE[-TAG]`` with the
task's own settings (and any ``--set``); the goal is IDA within 2 points of supervised, both at
or above 95% (training and held-out templates), each in under 15 minutes of training.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RUNS = Path(__file__).resolve().parent.parent / "runs"  # ignored by git
MODES = ("ida", "supervised")


def run_dir(mode: str, tag: str) -> Path:
    return RUNS / f"text_kb-{mode}{'-' + tag if tag else ''}"


def command(mode: str, tag: str, settings: list[str], seed: int) -> list[str]:
    sets = [arg for pair in settings for arg in ("--set", pair)]
    out = run_dir(mode, tag)
    return ["ida", "train", "text_kb", "--mode", mode, "--out", str(out), "--seed", str(seed),
            *sets]  # fmt: skip


def launch(args: argparse.Namespace) -> None:
    """Run both modes, ``--jobs`` at a time, each with one thread per job."""
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, 2 // args.jobs))}
    pending = [command(mode, args.tag, args.set or [], args.seed) for mode in MODES]
    running: list[tuple[subprocess.Popen, float, str]] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            cmd = pending.pop(0)
            print("$", " ".join(cmd), flush=True)
            log = open(Path(cmd[cmd.index("--out") + 1]).with_suffix(".log"), "w")  # noqa: SIM115
            running.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=log), time.time(),
                            cmd[4]))  # fmt: skip
        time.sleep(2)
        for proc, started, mode in list(running):
            if proc.poll() is not None:
                running.remove((proc, started, mode))
                print(f"{mode}: exit {proc.returncode} after {time.time() - started:.0f} s")


def report(tag: str) -> dict:
    """Each finished run's summary, and the goal's verdict."""
    found = {}
    for mode in MODES:
        path = run_dir(mode, tag) / "summary.json"
        if path.exists():
            found[mode] = json.loads(path.read_text())
    for mode, s in found.items():
        print(
            f"{mode:10} train templates {s['accuracy']:.3f} "
            f"[{' '.join(f'{a:.2f}' for a in s['accuracy_by_level'])}]  held-out templates "
            f"{s['heldout_templates']:.3f} "
            f"[{' '.join(f'{a:.2f}' for a in s['heldout_templates_by_level'])}]  "
            f"{s['train_seconds'] / 60:.1f} min, {s['steps']} steps, "
            f"H calls {s['overseer_calls']:,}, labels {s['labels']:,}"
        )
    if len(found) == 2:
        ida, sup = found["ida"], found["supervised"]
        met = (
            all(
                min(s["accuracy"], s["heldout_templates"]) >= 0.95 and s["train_seconds"] <= 900
                for s in (ida, sup)
            )
            and sup["accuracy"] - ida["accuracy"] <= 0.02
        )
        print("goal (IDA within 2 points of supervised, both >= 95%, < 15 min):",
              "met" if met else "not met")  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2))
    parser.add_argument("--tag", default="", help="suffix of the run directories")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", help="KEY=VALUE for both runs")
    parser.add_argument("--report", action="store_true", help="only print the table")
    args = parser.parse_args()
    if not args.report:
        RUNS.mkdir(parents=True, exist_ok=True)
        launch(args)
    if not report(args.tag):
        sys.exit("no finished runs")


if __name__ == "__main__":
    main()
