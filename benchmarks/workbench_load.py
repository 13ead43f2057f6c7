"""The workbench under load: claim latency and claims per second with 200 people answering as
fast as they can, on SQLite and on PostgreSQL, and the time to export 50,000 recorded steps.

    python benchmarks/workbench_load.py --json                          # both backends + export
    python benchmarks/workbench_load.py --backend sqlite --people 200 --seconds 20 --processes 2
    python benchmarks/workbench_load.py --backend both --lean --think 0.1   # people who think
    python benchmarks/workbench_load.py --only export --export-steps 50000
    python benchmarks/workbench_load.py --backend sqlite --profile-server /tmp/server.txt

Load: a real server (``python -m ida workbench serve``, one uvicorn process, as shipped) on a
fresh database with enough union_find steps (size 8) posted for the whole run; ``--people``
scripted people (``workbench_client.ScriptedPerson``: claim, H's exact move worked out from the
claim, submit; think time 0 unless ``--think``), all in one asyncio loop, each person over an
``httpx.AsyncClient`` of their own (``--lean``: a hand-written client on plain asyncio streams,
about a fifth of httpx's CPU), or split over ``--processes`` client processes. ``--think T``:
each person holds each task T seconds (spread uniformly over 0.5 T to 1.5 T) before submitting
it, as a person reads and answers; 0 (the default) measures the server's capacity, where the
latency is the queue of requests in flight. After ``--warmup`` seconds, claims that end within the
next ``--seconds`` are counted: claims per second, and the latency of each claim (the client's
view: request sent to response read) p50/p99. Alongside: the CPU seconds the server, the
database (PostgreSQL's processes) and the client used in the window and the machine's busy
share (the machine may be shared), which say where the time goes; ``--profile-server FILE``
also samples the server with py-spy (if on PATH) and sums the samples by package. For
comparison ``queue_only`` times the queue alone: claim + submit through ``StepQueue`` in this
process, one at a time, no HTTP.

Export: a fresh database with ``--export-steps`` answered steps bulk-inserted (runs, steps,
assignments, answers rows, as the queue writes them), then timed end to end three ways:
``export_lines`` in this process, the CLI ``python -m ida workbench export --out FILE`` (a new
process: start-up included), and ``GET /api/export`` streamed from a server.

The targets are printed beside the numbers (p99 claim latency < 100 ms; >= 600 claims/s on
PostgreSQL, >= 1,000 on SQLite; export of 50k steps < 10 s); nothing is tuned to them.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workbench_client as client  # noqa: E402
import workbench_faults as faults  # noqa: E402

TARGETS = {"p99_ms": 100.0, "claims_per_second": {"sqlite": 1000, "postgresql": 600}}
EXPORT_TARGET_S = 10.0


# -- CPU accounting from /proc ---------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on


def cpu_of(pid: int, with_children: bool = False) -> float:
    """CPU seconds of ``pid`` (with its waited-for children if asked)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root``, its reaped children and its live descendants (a PostgreSQL
    postmaster and its backends)."""
    children = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children[int(fields[1])].append(int(entry))  # by ppid
    total, stack = cpu_of(root, True), [root]
    while stack:
        for child in children[stack.pop()]:
            total += cpu_of(child)
            stack.append(child)
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICK, sum(values) / TICK


def postmaster_pid(cluster) -> int | None:
    try:
        return int((Path(cluster.data) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, AttributeError):
        return None


# -- the load run ---------------------------------------------------------------------------


JITTER = 0.5  # a think time spreads over (1 - JITTER) T .. (1 + JITTER) T


def _drive(url: str, tokens: list[str], start: float, end: float, think: float = 0.0):
    """One client process's people, claiming from ``start`` until ``end``; returns (finished
    at, latency) of every claim that got a task, the refused submissions, and the process's
    CPU seconds."""

    async def go():
        await asyncio.sleep(max(0.0, start - time.time()))
        return await client.people(url, tokens, think, False, end, jitter=JITTER)

    tallies = asyncio.run(go())
    stamps = [pair for t in tallies for pair in zip(t.claim_at, t.claim_seconds, strict=True)]
    refused = sum(sum(t.refused.values()) for t in tallies)
    return stamps, refused, time.process_time()


async def _exchange(reader, writer, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection: (status, body)."""
    writer.write(head + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length) if length else b""


def _drive_raw(url: str, tokens: list[str], start: float, end: float, think: float = 0.0):
    """``_drive`` with a lean client: plain asyncio streams, one kept-alive connection per
    person and the requests written by hand, so the machine's CPU goes to the server."""
    host, port = url.removeprefix("http://").split(":")

    async def person(token: str, stamps: list, refused: list) -> None:
        rng = random.Random(token)
        reader, writer = await asyncio.open_connection(host, int(port))
        auth = f"Authorization: Bearer {token}\r\nHost: {host}\r\n"
        claim = f"POST /api/claim HTTP/1.1\r\n{auth}Content-Length: 0\r\n\r\n".encode()
        while time.time() < end:
            began = time.perf_counter()
            status, body = await _exchange(reader, writer, claim)
            if status != 200:
                await asyncio.sleep(0.01)
                continue
            stamps.append((time.time(), time.perf_counter() - began))
            held = json.loads(body)
            data = json.dumps({"fence": held["fence"], "move": client.h_move(held)}).encode()
            if think:
                await asyncio.sleep(think * (1 + JITTER * (2 * rng.random() - 1)))
            head = (
                f"POST /api/tasks/{held['assignment']}/submit HTTP/1.1\r\n{auth}"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            status, _ = await _exchange(reader, writer, head, data)
            refused[0] += status != 200
        writer.close()

    async def go():
        await asyncio.sleep(max(0.0, start - time.time()))
        stamps, refused = [], [0]
        await asyncio.gather(*(person(t, stamps, refused) for t in tokens))
        return stamps, refused[0]

    stamps, refused = asyncio.run(go())
    return stamps, refused, time.process_time()


def load(it: faults.Setup, people: int, seconds: float, warmup: float, processes: int,
         profile: Path | None, steps_per_second: float, lean: bool = False,
         think: float = 0.0) -> dict:  # fmt: skip
    """Post enough steps, run ``people`` over ``processes`` client processes (``lean``: the
    hand-written client), measure."""
    drive = functools.partial(_drive_raw if lean else _drive, think=think)
    from ida.overseers.human.queue import StepQueue

    needed = int(steps_per_second * (seconds + warmup + 5))
    began = time.time()
    steps = faults.sample_steps(needed, seed=7)
    it.post(f"load-{time.time_ns()}", steps)
    tokens = [it.person(f"load-{i}-{time.time_ns()}")[1] for i in range(people)]
    prepared = time.time() - began
    groups = [tokens[i::processes] for i in range(processes)]
    start = time.time() + 1.0
    window = (start + warmup, start + warmup + seconds)
    end = window[1] + 0.5
    server_pid, pg_pid = it.server.pid, postmaster_pid(it.postgres)
    spy = None
    if profile is not None and shutil.which("py-spy"):
        spy = subprocess.Popen(
            ["py-spy", "record", "--pid", str(server_pid), "--duration", str(int(seconds)),
             "--format", "raw", "--output", str(profile), "--rate", "200", "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    cpu, client_pids = {}, [os.getpid()]

    def sample(key: str) -> None:
        cpu[key] = {
            "client": sum(cpu_of(pid) for pid in client_pids),
            "server": tree_cpu(server_pid),  # with its workers (--server-workers)
            "database": tree_cpu(pg_pid) if pg_pid else 0.0,
            "machine": machine_busy(),
        }

    async def mark():
        await asyncio.sleep(max(0.0, window[0] - time.time()))
        sample("begin")
        await asyncio.sleep(max(0.0, window[1] - time.time()))
        sample("end")

    if processes == 1:

        async def both():
            marker = asyncio.create_task(mark())
            result = await asyncio.to_thread(drive, it.base, tokens, start, end)
            await marker
            return result

        stamps, refused, _ = asyncio.run(both())
        results = [(stamps, refused, None)]
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(processes) as pool:
            client_pids[:] = [worker.pid for worker in pool._pool]
            pending = [pool.apply_async(drive, (it.base, g, start, end)) for g in groups]
            asyncio.run(mark())
            results = [p.get() for p in pending]
    if spy is not None:
        spy.wait(timeout=60)
    stamps = [s for r in results for s in r[0]]
    inside = [latency for at, latency in stamps if window[0] <= at < window[1]]
    claims_per_second = len(inside) / seconds
    used = {k: round(cpu["end"][k] - cpu["begin"][k], 2) for k in ("client", "server", "database")}
    busy = cpu["end"]["machine"][0] - cpu["begin"]["machine"][0]
    total = cpu["end"]["machine"][1] - cpu["begin"]["machine"][1]
    report = {
        "backend": it.backend,
        "people": people,
        "think_seconds": think,
        "client": "lean" if lean else "httpx",
        "client_processes": processes,
        "window_seconds": seconds,
        "claims": len(inside),
        "claims_per_second": round(claims_per_second, 1),
        "claim_ms": {
            "p50": round(1000 * float(np.percentile(inside, 50)), 1) if inside else None,
            "p99": round(1000 * float(np.percentile(inside, 99)), 1) if inside else None,
            "max": round(1000 * max(inside), 1) if inside else None,
        },
        "refused_submits": sum(r[1] for r in results),
        "cpu_seconds_in_window": {
            **used,
            "machine_busy": round(busy, 2),
            "machine_capacity": round(total, 2),
            "cores": os.cpu_count(),
        },
        "steps_posted": len(steps),
        "prepare_seconds": round(prepared, 1),
        "targets": {
            "p99_ms": TARGETS["p99_ms"],
            "claims_per_second": TARGETS["claims_per_second"][it.backend],
        },
    }
    report["met"] = {
        "p99": report["claim_ms"]["p99"] is not None
        and report["claim_ms"]["p99"] < TARGETS["p99_ms"],
        "claims_per_second": claims_per_second >= TARGETS["claims_per_second"][it.backend],
    }
    if spy is not None and profile.exists():
        report["server_profile"] = profile_shares(profile)
    report["queue_only"] = queue_only(it, StepQueue, 400)
    return report


def queue_only(it: faults.Setup, step_queue, count: int) -> dict:
    """Claim + submit through the queue in this process, one at a time (no HTTP), as the
    server claims (any queued step: the load run's leftovers first, then ``count`` more)."""
    queue = step_queue(it.engine, lease=120.0)
    it.post(f"queue-only-{time.time_ns()}", faults.sample_steps(count, seed=11))
    person, _ = it.person(f"queue-only-{time.time_ns()}")
    claims, began = [], time.perf_counter()
    while len(claims) < count:
        tick = time.perf_counter()
        held = queue.claim(person)
        if held is None:
            break
        claims.append(time.perf_counter() - tick)
        queue.submit(person, held.assignment, held.fence, it.truth[held.key])
    seconds = time.perf_counter() - began
    return {
        "claims": len(claims),
        "claim_plus_submit_per_second": round(len(claims) / seconds, 1),
        "claim_ms_p50": round(1000 * float(np.percentile(claims, 50)), 2),
    }


PACKAGES = ("sqlalchemy", "sqlite3", "psycopg", "starlette", "fastapi", "uvicorn", "h11",
            "anyio", "json", "ida/overseers/human/queue", "ida/overseers/human/web",
            "ida/domains", "asyncio", "threading")  # fmt: skip


def profile_shares(path: Path) -> dict:
    """py-spy's raw (collapsed) samples: the share of samples whose stack passes through each
    package (a sample counts for every package on its stack), and the idle share."""
    totals, samples = Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        for package in PACKAGES:
            if f"/{package}" in stack or f"{package}/" in stack or f"({package}" in stack:
                totals[package] += n
    return {
        "samples": samples,
        "share": {k: round(v / samples, 3) for k, v in totals.most_common()} if samples else {},
    }


# -- export ---------------------------------------------------------------------------------


def bulk_answered(engine, count: int, seed: int = 3) -> str:
    """``count`` answered steps in one run, inserted as the queue would have left them;
    returns the run's name."""
    from sqlalchemy import insert

    from ida.overseers.human.people import add_person
    from ida.overseers.human.protocol import step_key
    from ida.overseers.human.statements import ANSWERS, RUNS, A, S

    add_person(engine, "export-person")
    now = time.time()
    with engine.begin() as conn:
        run = conn.execute(
            insert(RUNS).values(name="export", task=faults.TASK, size=faults.SIZE, overlap=1,
                                created=now).returning(RUNS.c.id)
        ).scalar_one()  # fmt: skip
    steps = faults.sample_steps(count, seed)
    person = 1
    for start in range(0, count, 5000):
        chunk = steps[start : start + 5000]
        ids = range(start + 1, start + 1 + len(chunk))
        with engine.begin() as conn:
            conn.execute(insert(S), [
                dict(id=i, run_id=run, key=step_key(faults.TASK, faults.SIZE, c), level=level,
                     context=c, priority=0.0, state="done", move=m, created=now,
                     done_at=now)
                for i, (c, level, m) in zip(ids, chunk, strict=True)
            ])  # fmt: skip
            conn.execute(insert(A), [
                dict(id=i, step_id=i, replica=0, priority=0.0, state="done", holder_id=person,
                     fence=1, claimed_at=now)
                for i in ids
            ])  # fmt: skip
            conn.execute(insert(ANSWERS), [
                dict(id=i, assignment_id=i, step_id=i, person_id=person, fence=1, move=m,
                     created=now + i * 1e-3, seconds=1.0)
                for i, (_, _, m) in zip(ids, chunk, strict=True)
            ])  # fmt: skip
    return "export"


def export(backend: str, directory: Path, count: int, cluster) -> dict:
    from ida.overseers.human.db import open_database
    from ida.overseers.human.export import export_lines
    from ida.overseers.human.people import add_person

    url = f"sqlite:///{directory / 'export.db'}" if backend == "sqlite" else cluster.new_database()
    engine = open_database(url)
    began = time.perf_counter()
    bulk_answered(engine, count)
    inserted = time.perf_counter() - began

    began = time.perf_counter()
    lines = size = 0
    for line in export_lines(engine):
        lines += 1
        size += len(line)
    in_process = time.perf_counter() - began

    out = directory / "export.jsonl"
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ida", "workbench", "export", "--db", url, "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    cli = time.perf_counter() - began
    cli_lines = sum(1 for _ in out.open()) if done.returncode == 0 else None

    token = add_person(engine, "export-admin", admin=True)
    it = faults.Setup(backend, url, engine, 120.0, None, postgres=cluster)
    it.start_server()
    try:
        import httpx

        began = time.perf_counter()
        http_lines = 0
        with httpx.stream(
            "GET", f"{it.base}/api/export", headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as response:  # fmt: skip
            for _ in response.iter_lines():
                http_lines += 1
        http = time.perf_counter() - began
    finally:
        it.kill_server()
        engine.dispose()
    return {
        "backend": backend,
        "steps": count,
        "insert_seconds": round(inserted, 1),
        "export_lines_seconds": round(in_process, 2),
        "lines": lines,
        "megabytes": round(size / 1e6, 1),
        "cli_seconds": round(cli, 2),
        "cli_lines": cli_lines,
        "cli_error": None if done.returncode == 0 else done.stderr.strip()[-500:],
        "http_seconds": round(http, 2),
        "http_lines": http_lines,
        "target_seconds": EXPORT_TARGET_S,
        "met": max(in_process, cli, http) < EXPORT_TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--only", choices=("load", "export"), help="one part only")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--server-workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--lean", action="store_true", help="a hand-written client (less CPU) instead of httpx"
    )
    parser.add_argument(
        "--think", type=float, default=0.0,
        help="seconds each person holds a task before submitting it (spread +-50%%)",
    )  # fmt: skip
    parser.add_argument(
        "--steps-per-second", type=float, default=2500.0,
        help="steps posted per second of the run (more than the server can answer)",
    )  # fmt: skip
    parser.add_argument("--export-steps", type=int, default=50_000)
    parser.add_argument("--profile-server", type=Path, help="py-spy raw samples of the server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    directory = Path(tempfile.mkdtemp(prefix="ida-load-"))
    reports = []
    try:
        for backend in backends:
            with ExitStack() as stack:
                cluster = stack.enter_context(faults.postgres_cluster(backend))
                if args.only != "export":
                    serve = ("--workers", str(args.server_workers))
                    it = stack.enter_context(
                        faults.setup(backend, directory, 120.0, None, cluster, serve)
                    )
                    profile = args.profile_server
                    if profile is not None and len(backends) > 1:
                        profile = profile.with_name(f"{profile.stem}-{backend}{profile.suffix}")
                    report = load(it, args.people, args.seconds, args.warmup, args.processes,
                                  profile, args.steps_per_second, args.lean,
                                  args.think)  # fmt: skip
                    reports.append({"load": report})
                    if not args.json:
                        print(json.dumps(reports[-1]), flush=True)
                if args.only != "load":
                    reports.append({"export": export(backend, directory, args.export_steps,
                                                     cluster)})  # fmt: skip
                    if not args.json:
                        print(json.dumps(reports[-1]), flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
