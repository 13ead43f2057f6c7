"""IDA on the text domain with a small language model as H, next to the scripted H and to the
scripted H wrong at a known rate (error injection), with the same short budget.

    python benchmarks/text_llm_ida.py --json benchmarks/results_text_llm_ida.json

Starts llama.cpp's server (as ``llm_overseer.py`` does: SmolLM2-135M-Instruct, one thread)
unless ``--endpoint`` names one, then trains ``text_kb`` for ``--steps`` steps with a round of
``--instances`` x ``--questions`` questions every ``--every`` steps, once per overseer: the
language model, the scripted H, and the scripted H with each ``--noise`` rate. Replies are
cached (``--cache``), so a rerun asks the server nothing. Reports held-out accuracy by hop count
(training and held-out templates), H's calls and failures, and the language model's requests,
tokens and seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from llm_overseer import MODEL, start_server, wait_ready
from rich.console import Console

from ida.core.runs.run import train
from ida.domains.text.config import configure
from ida.overseers.llm import ChatClient


def run(settings: dict, folder: Path) -> dict:
    started = time.perf_counter()
    summary = train(configure("text_kb", settings), folder, console=Console(stderr=True))
    record = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
    llm = {k: v for k, v in record.items() if k.startswith(("h_", "a_"))}
    return {"summary": summary, "llm": llm, "wall_seconds": round(time.perf_counter() - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=10, help="distillation steps per round")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.8])
    parser.add_argument("--endpoint")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--llama-venv", type=Path, default=Path("/work/llama-venv"))
    parser.add_argument("--cache", type=Path, default=Path("runs/text_llm_cache.sqlite"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    base = dict(
        steps=args.steps,
        eval_every=args.steps,
        amplify_every=args.every,
        instances_per_round=args.instances,
        questions_per_instance=args.questions,
        batch_instances=args.instances,
    )
    tmp = Path(tempfile.mkdtemp(prefix="text_llm_ida_"))
    endpoint = args.endpoint or f"http://127.0.0.1:{args.port}/v1"
    proc: subprocess.Popen | None = None
    if args.endpoint is None:
        proc = start_server(args.llama_venv, args.port, tmp / "llama_server.log")
    results = {"settings": vars(args) | {"cache": str(args.cache)}, "runs": {}}
    try:
        wait_ready(ChatClient(endpoint, args.model, timeout=300), proc)
        llm = dict(
            overseer="llm",
            endpoint=endpoint,
            llm_model=args.model,
            llm_cache=str(args.cache),
            llm_concurrency=1,
            llm_timeout=300,
        )
        plan = {"llm": llm, "script": {}}
        plan |= {f"noisy {rate}": dict(overseer="noisy", noise_rate=rate) for rate in args.noise}
        for name, settings in plan.items():
            results["runs"][name] = run({**base, **settings}, tmp / name.replace(" ", "_"))
            print(name, json.dumps(results["runs"][name]), flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
