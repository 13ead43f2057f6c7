"""End to end: IDA with people as H, every H step answered over HTTP through the workbench.

``--task union_find`` (the default): union_find at size 8 (the adversarial benchmark's
settings, benchmarks/adversarial.toml) trained with ``--overseer human --human-budget 10000``;
scripted people (the task's exact H computed from what the API shows them,
benchmarks/workbench_client.py) answer every step through the workbench's JSON API. Mid-run
the trainer is killed (kill -9) and resumed, and later the web server is killed (kill -9) and
restarted. At the end the database is checked: every answer the people were told was accepted
is there (nothing lost), no step has two answers and no context was asked twice (nothing asked
twice), and the trainer's summary gives the held-out accuracy, the calls to people and the
wall time.

``--task text_kb``: the text domain on ``benchmarks/text_people.toml`` (one and two hops,
1,200 steps), the people typing the scripted reader's moves (``ida.domains.text.script``) from the
sentences and question the API shows them; then the same run with the scripted reader as H in
process, whose targets, and so accuracy, people's run must match.

    python benchmarks/workbench_e2e.py --json benchmarks/results_workbench_e2e.json
    python benchmarks/workbench_e2e.py --task text_kb \
        --json benchmarks/results_workbench_e2e_text.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from sqlalchemy import func, select

from ida.overseers.human.db import open_database
from ida.overseers.human.people import add_person
from ida.overseers.human.statements import ANSWERS, RUNS, S
from ida.overseers.human.testing import free_port, start_server, stop_server, throwaway_postgres

HERE = Path(__file__).parent


def last_step(run_dir: Path) -> int:
    """The step of the run's last evaluation (0 before the first)."""
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return 0
    lines = metrics.read_text().splitlines()
    return json.loads(lines[-1])["step"] if lines else 0


def train_command(task: str, run_dir: Path, args) -> list[str]:
    """``ida train`` of the benchmark's task with its settings (H not yet named)."""
    if task == "text_kb":
        return [sys.executable, "-m", "ida", "train", "text_kb", "--config",
                str(HERE / "text_people.toml"), "--out", str(run_dir)]  # fmt: skip
    return [
        sys.executable, "-m", "ida", "train", "union_find", "--config",
        str(HERE / "adversarial.toml"), "--human-budget", str(args.budget),
        "--out", str(run_dir), "--steps", str(args.steps),
    ]  # fmt: skip


def trainer(url: str, run_dir: Path, args, resume: bool) -> subprocess.Popen:
    command = train_command(args.task, run_dir, args) + ["--overseer", "human", "--db", url]
    command += ["--resume"] if resume else []
    log = open(run_dir.parent / "trainer.log", "ab")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def people(port: int, tokens: Path, args) -> subprocess.Popen:
    command = [
        sys.executable, str(HERE / "workbench_client.py"), "--url", f"http://127.0.0.1:{port}",
        "--tokens-file", str(tokens), "--think", str(args.think), "--retry-for", "600", "--json",
    ]  # fmt: skip
    summary = open(tokens.parent / "people.json", "wb")  # printed when they are stopped
    log = open(tokens.parent / "people.log", "ab")
    return subprocess.Popen(command, stdout=summary, stderr=log, start_new_session=True)


def check(url: str, people_summary: dict) -> dict:
    """What the database holds against what the people were told."""
    engine = open_database(url)
    with engine.connect() as conn:
        steps = conn.execute(select(func.count()).select_from(S)).scalar_one()
        done = conn.execute(
            select(func.count()).select_from(S).where(S.c.state == "done")
        ).scalar_one()
        answers = conn.execute(select(func.count()).select_from(ANSWERS)).scalar_one()
        twice = conn.execute(
            select(func.count()).select_from(
                select(ANSWERS.c.step_id).group_by(ANSWERS.c.step_id)
                .having(func.count() > 1).subquery()
            )
        ).scalar_one()  # fmt: skip
        runs = conn.execute(select(func.count()).select_from(RUNS)).scalar_one()
    engine.dispose()
    accepted = people_summary["steps"]  # submissions the server accepted (a retry: once)
    return {
        "steps_asked": steps,
        "steps_answered": done,
        "answers": answers,
        "steps_answered_twice": twice,
        "accepted_by_the_server": accepted,
        "lost": accepted - answers,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["union_find", "text_kb"], default="union_find")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--think", type=float, default=0.0, help="seconds a person thinks")
    parser.add_argument("--budget", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=600, help="union_find's steps")
    parser.add_argument("--kill-trainer-at", type=int, default=None, help="(default: 1/3 in)")
    parser.add_argument("--kill-server-at", type=int, default=None, help="(default: 2/3 in)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args()
    steps = args.steps
    if args.task == "text_kb":
        steps = tomllib.loads((HERE / "text_people.toml").read_text())["steps"]
    args.kill_trainer_at = args.kill_trainer_at or steps // 3
    args.kill_server_at = args.kill_server_at or 2 * steps // 3
    out = args.out or Path(tempfile.mkdtemp(prefix="ida-e2e-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.backend == "postgresql":
        with throwaway_postgres() as pg:
            result = run(pg.url, out, args)
    else:
        result = run(f"sqlite:///{out / 'workbench.db'}", out, args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def run(url: str, out: Path, args) -> dict:
    engine = open_database(url)
    tokens = out / "tokens.txt"
    tokens.write_text("".join(add_person(engine, f"person{i}") + "\n" for i in range(args.people)))
    engine.dispose()
    port, run_dir = free_port(), out / "run"
    started = time.monotonic()
    server = start_server(url, port)
    crowd = people(port, tokens, args)
    train = trainer(url, run_dir, args, resume=False)
    events = []
    killed_trainer = killed_server = False
    while True:
        time.sleep(0.5)
        step = last_step(run_dir)
        if not killed_trainer and step >= args.kill_trainer_at:
            os.killpg(train.pid, signal.SIGKILL)
            train.wait()
            events.append({"killed": "trainer", "at_step": step, "t": time.monotonic() - started})
            train = trainer(url, run_dir, args, resume=True)
            killed_trainer = True
        if not killed_server and step >= args.kill_server_at:
            stop_server(server)  # SIGKILL
            events.append({"killed": "server", "at_step": step, "t": time.monotonic() - started})
            server = start_server(url, port)
            killed_server = True
        if train.poll() is not None:
            break
    wall = time.monotonic() - started
    os.killpg(crowd.pid, signal.SIGTERM)  # the people print their summary and stop
    crowd.wait(60)
    stop_server(server, kill=False)
    summary_path = run_dir / "summary.json"
    if train.returncode or not summary_path.exists():
        raise SystemExit(f"training failed ({train.returncode}); see {out / 'trainer.log'}")
    summary = json.loads(summary_path.read_text())
    crowd_summary = json.loads((out / "people.json").read_text())
    scripted = None
    if args.task == "text_kb":  # the same run with the scripted reader as H, in process
        command = train_command(args.task, out / "run-script", args)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        scripted = json.loads((out / "run-script" / "summary.json").read_text())
    return {
        "command": "python benchmarks/workbench_e2e.py " + " ".join(sys.argv[1:]),
        "task": args.task,
        "backend": args.backend,
        "people": args.people,
        "think_seconds": args.think,
        "accuracy": summary["accuracy"],
        "accuracy_by_level": summary["accuracy_by_level"],
        "heldout_templates": summary.get("heldout_templates"),
        "scripted_h": None
        if scripted is None
        else {
            k: scripted.get(k)
            for k in (
                "accuracy",
                "accuracy_by_level",
                "heldout_templates",
                "overseer_calls",
                "train_seconds",
            )
        },
        "calls_to_people": summary["overseer_calls"],
        "learned_calls": summary.get("learned_calls"),
        "people_answers": summary.get("people_answers"),
        "train_seconds": summary["train_seconds"],
        "wall_seconds": round(wall, 1),
        "events": events,
        "database": check(url, crowd_summary),
        "people_summary": crowd_summary,
    }


if __name__ == "__main__":
    main()
