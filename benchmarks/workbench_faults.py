"""The workbench's fault harness: many people claiming and submitting over HTTP while processes
die, and checks that every task was answered exactly once, by whoever held it.

    python benchmarks/workbench_faults.py --backend sqlite --workers 16 --tasks 2000 --json
    python benchmarks/workbench_faults.py --backend postgresql --unsafe no-lock   # must fail
    python benchmarks/workbench_faults.py --backend postgresql --unsafe no-fence  # must fail
    python benchmarks/workbench_faults.py --backend postgresql --scenario all

A run: a real server (``python -m ida workbench serve``) on a fresh database (a SQLite file, or
a database of its own on a throwaway PostgreSQL), ``--tasks`` union_find steps at size 8
posted to it (real contexts: a random point of H's chain on a sampled question, with the true
answers to the subquestions asked so far), and ``--workers`` worker processes, each with its
own person's token, claiming and submitting H's exact move as fast as they can. Every
``--kill-every`` seconds a random worker is SIGKILLed and respawned at once with the same
token (it first resubmits a submission its log shows as sent but unanswered: a retry must be
harmless); a share (``--stall``) of claims stall past the lease before submitting. Workers are
stdlib-only processes (``python -I -S``: about 20 ms to start) that log every claim and every
submission and its result, one JSON line each, flushed per line, to a log per worker.

The checks, once every task has an answer (the database's ``answers`` and the logs together):

* ``unanswered``: assignments of the run without an answer row; ``not_done``: assignments or
  steps whose state is not ``done`` (an answered task re-opened).
* ``duplicates``: assignments with more than one accepted submission in the logs (a
  submission is its holder and fence; a repeat of it is the same one); ``unacknowledged``:
  answers no worker's log shows accepted; ``phantoms``: submissions logged as accepted that
  are not the answer the database holds.
* ``re_asked``: claims granted (by the server's clock: ``lease_until - lease``) after the task's
  answer was accepted.
* ``double_grants``: a task granted to a second claim (higher fence) before the first claim's
  lease ran out: two people held it at once (what the claim's row lock prevents).
* ``stale_accepts``: answers whose fence is lower than a fence granted for the task before the
  answer was accepted: accepted from someone who no longer held it (what fencing prevents).
  ``fence_mismatches`` (the database alone): answers whose fence is not the task's last.
* ``wrong_moves``: answers that are not H's exact move; ``crashes``: workers that died
  other than by the harness's kills.

``--unsafe no-lock`` (PostgreSQL: the claim takes its row without ``FOR UPDATE SKIP LOCKED``)
and ``--unsafe no-fence`` (submissions not checked against the holder's fence) are negative
controls: there the harness must see double grants or re-asks (no-lock), or stale accepts
(no-fence), and says that it caught them.

Scenarios (``--scenario NAME``, or ``all``; short checks on the same kind of setup):

* ``server-kill``: the run above, with the server SIGKILLed twice mid-run (mid-submit under
  load) and restarted on the same database: every task done once.
* ``postgres-immediate``: the run with ``pg_ctl stop -m immediate`` mid-run, and a restart.
* ``closed-tab``: a claim never submitted: its lease runs out and another person gets the task
  (with a higher fence); the first person's late submission is refused.
* ``two-tabs``: one person claims twice: the same task and fence; the same submission from both
  tabs: one accepted, the other a repeat; a different move from a third tab: 409.
* ``retry``: a submission whose connection is closed before its response is read, resubmitted:
  a repeat (or the first acceptance, if the closed one never ran); one answer row.

The worker processes run this same file (``worker`` as the first argument); its top level
imports the standard library only.
"""

# ruff: noqa: E402  (a worker process stops before the harness's imports)
from __future__ import annotations

import json
import os
import random
import socket
import sys
import time

TASK, SIZE = "union_find", 8
TOLERANCE = 1e-3  # seconds: float rounding in lease_until - lease


def canonical(context: dict) -> str:
    """The key a worker looks up H's move by."""
    return json.dumps(
        [context["facts"], context["question"], context["answered"]], separators=(",", ":")
    )


# -- HTTP/1.1 on a plain socket (http.client would double a worker's start-up time) -----------


class Api:
    """Requests to the workbench's JSON API as one person, over one kept-alive connection."""

    def __init__(self, url: str, token: str, timeout: float = 10.0):
        self.host = url.split("//", 1)[-1].split("/", 1)[0]
        name, _, port = self.host.rpartition(":")
        self.address, self.token, self.timeout = (name, int(port)), token, timeout
        self.sock = self.file = None

    def call(self, path: str, body: object = None, method: str = "POST") -> tuple[int, dict]:
        """One try: (status, JSON body or {}); a failed or cut connection raises OSError (and is
        dropped, so the next call opens a new one)."""
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, self.timeout)
                self.file = self.sock.makefile("rb")
            self.sock.sendall(head.encode() + data)
            status, raw, close = self._response()
        except (OSError, ValueError, IndexError) as err:
            self.close()
            raise ConnectionError(f"{type(err).__name__}: {err}") from None
        if close:
            self.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"error": raw[:200].decode(errors="replace")}
        return status, parsed if isinstance(parsed, dict) else {"body": parsed}

    def _response(self) -> tuple[int, bytes, bool]:
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed")
        status, length, chunked, close = int(line.split()[1]), 0, False, False
        while (line := self.file.readline()).strip():
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value == b"chunked"
            elif name == b"connection":
                close = value == b"close"
        if not line:
            raise ConnectionError("connection closed in the headers")
        if not chunked:
            raw = self.file.read(length)
            if len(raw) < length:
                raise ConnectionError("connection closed in the body")
            return status, raw, close
        parts = []
        while size := int(self.file.readline().split(b";")[0], 16):
            parts.append(self.file.read(size))
            self.file.readline()
        self.file.readline()
        return status, b"".join(parts), close

    def retrying(self, path: str, body: object = None, until: float = float("inf")):
        """``call`` again after connection failures and 5xx answers (the server or its database
        restarting) until ``until``; returns (status, body, tries), status 0 if none came."""
        tries, pause = 0, 0.02
        while True:
            tries += 1
            try:
                status, answer = self.call(path, body)
                if status < 500:
                    return status, answer, tries
            except ConnectionError:
                status, answer = 0, {}
            if time.time() > until:
                return status, answer, tries
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.5)

    def close(self) -> None:
        if self.sock is not None:
            self.file.close()
            self.sock.close()
            self.sock = self.file = None


# -- the worker process --------------------------------------------------------------------


def read_log(path) -> list[dict]:
    """A worker's log, skipping a line cut short by a kill."""
    events = []
    try:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
    except FileNotFoundError:
        pass
    return events


def unanswered_send(events: list[dict]) -> dict | None:
    """The last submission a log shows as sent without a result (the worker died waiting)."""
    pending = None
    for event in events:
        if event.get("ev") == "send":
            pending = event
        elif event.get("ev") == "result" and pending is not None:
            if (event["a"], event["f"]) == (pending["a"], pending["f"]):
                pending = None
    return pending


def unfinished_stall(events: list[dict]) -> dict | None:
    """The last stall a log shows begun and not yet followed by its submission."""
    stall = None
    for event in events:
        if event.get("ev") == "stall":
            stall = event
        elif event.get("ev") == "send" and stall is not None:
            if (event["a"], event["f"]) == (stall["a"], stall["f"]):
                stall = None
    return stall


def worker(options: dict) -> int:
    """One worker's life: settle the submission its log shows unanswered, then claim, look up
    H's move, maybe stall past the lease, submit; log each claim, submission and result. A
    stall outlives kills: a respawned worker first sleeps out a stall its log shows begun and
    then submits that task with that fence, as a slow person's open page would."""
    parent, pid, until = os.getppid(), os.getpid(), options["deadline"]
    with open(options["moves"], encoding="utf-8") as file:
        moves = json.load(file)
    api = Api(options["url"], options["token"])
    history = read_log(options["log"])
    pending, stall = unanswered_send(history), unfinished_stall(history)
    log = open(options["log"], "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def note(**event) -> None:
        event.update(t=time.time(), pid=pid)
        log.write(json.dumps(event, separators=(",", ":")) + "\n")

    def submit(assignment: int, fence: int, move: dict) -> None:
        note(ev="send", a=assignment, f=fence, move=move)
        status, answer, tries = api.retrying(
            f"/api/tasks/{assignment}/submit", {"fence": fence, "move": move}, until
        )
        note(
            ev="result", a=assignment, f=fence, status=status, tries=tries,
            accepted=answer.get("accepted"), repeat=answer.get("repeat"),
            error=answer.get("error"),
        )  # fmt: skip

    note(ev="start")
    if pending is not None:
        note(ev="recover", a=pending["a"], f=pending["f"])
        submit(pending["a"], pending["f"], pending["move"])
    elif stall is not None:  # the person is still on that task: wait it out and submit
        note(ev="resume", a=stall["a"], f=stall["f"])
        time.sleep(max(0.0, stall["until"] - time.time()))
        submit(stall["a"], stall["f"], stall["move"])
    while time.time() < until and os.getppid() == parent:
        status, answer, _ = api.retrying("/api/claim", None, until)
        if status == 204:
            if os.path.exists(options["stop_file"]):
                note(ev="exit")
                return 0
            time.sleep(0.05)
            continue
        if status != 200:
            note(ev="claim-error", status=status, error=answer.get("error"))
            time.sleep(0.1)
            continue
        assignment, fence = answer["assignment"], answer["fence"]
        note(ev="claim", a=assignment, f=fence, lu=answer["lease_until"], run=answer["run"])
        move = moves.get(canonical(answer["context"]))
        if move is None:
            note(ev="unknown-context", a=assignment)
            move = {"answer": 0}
        if random.random() < options["stall"]:
            note(ev="stall", a=assignment, f=fence, until=time.time() + options["stall_seconds"],
                 move=move)  # fmt: skip
            time.sleep(options["stall_seconds"])
        elif options["think"]:
            time.sleep(random.uniform(0, options["think"]))
        submit(assignment, fence, move)
    note(ev="deadline")
    return 2


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:  # python -I -S THIS worker JSON
    sys.exit(worker(json.loads(sys.argv[2])))

import argparse
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve()


# -- the harness: database, server, steps, people --------------------------------------------


def sample_steps(count: int, seed: int) -> list[tuple[dict, int, dict]]:
    """``count`` distinct steps of H on union_find at size 8: (context, level, H's move); each
    a random point of H's chain on a sampled question, the subquestions answered truly."""
    import numpy as np

    from ida.domains.qa.overseers.human import move_of
    from ida.domains.qa.tasks import get_task
    from ida.overseers.human.protocol import context_of

    task = get_task(TASK, SIZE)
    rng = np.random.default_rng(seed)
    steps: dict[str, tuple[dict, int, dict]] = {}
    while len(steps) < count:
        inst = task.sample_instance(rng)
        level = int(rng.integers(task.num_levels))
        question = task.sample_question(rng, inst, level)
        chain, answered = [], ()
        while True:
            move = task.next_step(inst, question, answered)
            chain.append((answered, move))
            if not isinstance(move, tuple):
                break
            answered = tuple((q, task.solve(inst, q)) for q in move)
        answered, move = chain[int(rng.integers(len(chain)))]
        context = context_of(inst.facts.tolist(), question, answered)
        steps.setdefault(canonical(context), (context, level, move_of(move)))
    return list(steps.values())


@dataclass
class Setup:
    """One database with a server on it: ``url``, ``engine``, the server's ``port`` and
    process, and the PostgreSQL cluster where the backend is PostgreSQL."""

    backend: str
    url: str
    engine: object
    lease: float
    unsafe: str | None
    port: int = 0
    server: object = None
    postgres: object = None
    people: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (id, token)
    truth: dict[str, dict] = field(default_factory=dict)  # step key -> the exact H's move
    server_args: tuple[str, ...] = ()  # more options of `ida workbench serve`

    def start_server(self) -> float:
        from ida.overseers.human.testing import free_port, start_server

        began = time.time()
        self.port = self.port or free_port()
        args = ["--host", "127.0.0.1", "--lease", str(self.lease), *self.server_args]
        if self.unsafe:
            args += ["--unsafe", self.unsafe]
        self.server = start_server(self.url, self.port, *args)
        return time.time() - began

    def kill_server(self) -> None:
        from ida.overseers.human.testing import stop_server

        if self.server is not None:
            stop_server(self.server)
            self.server = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def person(self, name: str) -> tuple[int, str]:
        """(id, token) of person ``name``, added on first use."""
        if name not in self.people:
            from sqlalchemy import select

            from ida.overseers.human.people import PEOPLE, add_person

            token = add_person(self.engine, name)
            with self.engine.connect() as conn:
                pid = conn.execute(select(PEOPLE.c.id).where(PEOPLE.c.name == name)).scalar_one()
            self.people[name] = (pid, token)
        return self.people[name]

    def post(self, run: str, steps: list[tuple[dict, int, dict]]) -> int:
        """Post ``steps`` to a new run; returns its id."""
        from ida.overseers.human.protocol import Post
        from ida.overseers.human.queue import StepQueue

        queue = StepQueue(self.engine)
        run_id = queue.run_id(run, TASK, SIZE)
        for start in range(0, len(steps), 500):
            chunk = steps[start : start + 500]
            keys = queue.post(run_id, [Post(c, level) for c, level, _ in chunk])
            self.truth.update(zip(keys, (m for *_, m in chunk), strict=True))
        return run_id


@contextmanager
def postgres_cluster(backend: str):
    """A throwaway PostgreSQL cluster for ``backend == "postgresql"``, else None."""
    if backend != "postgresql":
        yield None
        return
    from ida.overseers.human.testing import throwaway_postgres

    with throwaway_postgres() as cluster:
        yield cluster


@contextmanager
def setup(
    backend: str,
    directory: Path,
    lease: float,
    unsafe: str | None = None,
    cluster=None,
    server_args: tuple[str, ...] = (),
):
    """A fresh database (a SQLite file in ``directory``, or a new database on ``cluster``) with
    a server on it (``server_args``: more options of ``ida workbench serve``); the server is
    killed and the engine disposed afterwards."""
    from ida.overseers.human.db import open_database

    if backend == "sqlite":
        url = f"sqlite:///{directory / f'faults-{time.time_ns()}.db'}"
    else:
        url = cluster.new_database()
    engine = open_database(url)
    it = Setup(backend, url, engine, lease, unsafe, postgres=cluster, server_args=server_args)
    try:
        it.start_server()
        yield it
    finally:
        it.kill_server()
        engine.dispose()


# -- the crowd of worker processes -------------------------------------------------------------


class Crowd:
    """``len(tokens)`` worker processes, respawned with the same token and log when killed."""

    def __init__(self, it: Setup, tokens: list[str], directory: Path, moves: Path, options):
        self.it, self.tokens, self.dir, self.moves = it, tokens, directory, moves
        self.stop_file = directory / "stop"
        self.deadline = time.time() + options.pop("deadline")
        self.options = options
        self.procs: list[subprocess.Popen | None] = [None] * len(tokens)
        self.kills = self.respawns = self.crashes = self.stragglers = 0
        self.crash_codes: list[int] = []

    def log(self, i: int) -> Path:
        return self.dir / f"worker-{i}.log"

    def spawn(self, i: int) -> None:
        options = dict(
            url=self.it.base, token=self.tokens[i], log=str(self.log(i)), moves=str(self.moves),
            stop_file=str(self.stop_file), deadline=self.deadline, **self.options,
        )  # fmt: skip
        errors = open(self.dir / f"worker-{i}.err", "ab")  # noqa: SIM115 (the child's now)
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-I", "-S", str(HERE), "worker", json.dumps(options)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        errors.close()

    def start(self) -> None:
        self.stop_file.unlink(missing_ok=True)
        for i in range(len(self.tokens)):
            self.spawn(i)

    def kill_one(self, rng: random.Random) -> None:
        i = rng.randrange(len(self.procs))
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
            self.kills += 1
        self.spawn(i)
        self.respawns += 1

    def reap(self) -> None:
        """Respawn workers that died on their own (counted as crashes)."""
        for i, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is not None:
                self.crashes += 1
                self.crash_codes.append(proc.returncode)
                self.spawn(i)

    def finish(self, timeout: float = 20.0) -> None:
        """Let every worker settle its last submission and exit (it exits when the queue is
        empty and the stop file exists); kill stragglers after ``timeout``."""
        self.reap()
        self.stop_file.touch()
        until = time.time() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, until - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.stragglers += 1

    def events(self) -> list[dict]:
        found = []
        for i in range(len(self.tokens)):
            for event in read_log(self.log(i)):
                event["w"] = i
                found.append(event)
        return found


# -- a run under faults and its checks ----------------------------------------------------------


def unanswered_count(engine, run_id: int) -> int:
    from sqlalchemy import func, select

    from ida.overseers.human.statements import ANSWERS, A, S

    answered = select(ANSWERS.c.id).where(ANSWERS.c.assignment_id == A.c.id).exists()
    query = (
        select(func.count())
        .select_from(A.join(S, S.c.id == A.c.step_id))
        .where(S.c.run_id == run_id, ~answered)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def run_faults(
    it: Setup,
    directory: Path,
    tasks: int = 2000,
    workers: int = 16,
    kill_every: float = 0.05,
    stall: float = 0.03,
    stall_seconds: float | None = None,
    think: float = 0.0,
    seed: int = 0,
    timeout: float = 600.0,
    disrupt=None,
    name: str = "faults",
) -> dict:
    """Post ``tasks`` steps, let ``workers`` processes answer them under kills until every task
    has an answer (or ``timeout``), and check the result. ``disrupt(it, answered_share)`` is
    called every poll (a scenario's fault)."""
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=directory))
    stall_seconds = 1.5 * it.lease if stall_seconds is None else stall_seconds
    began = time.time()
    steps = sample_steps(tasks, seed)
    run_id = it.post(f"{name}-{time.time_ns()}", steps)
    moves = directory / "moves.json"
    moves.write_text(json.dumps({canonical(c): m for c, _, m in steps}))
    tokens = [it.person(f"{name}-w{i}-{time.time_ns()}")[1] for i in range(workers)]
    ids = {token: pid for pid, token in it.people.values()}
    person_of = {i: ids[t] for i, t in enumerate(tokens)}
    prepared = time.time() - began
    options = dict(stall=stall, stall_seconds=stall_seconds, think=think, deadline=timeout + 60)
    crowd = Crowd(it, tokens, directory, moves, options)
    rng = random.Random(seed)
    started = time.time()
    crowd.start()
    next_kill, next_poll, timed_out, remaining = started + kill_every, started, False, tasks
    while True:
        now = time.time()
        if kill_every and now >= next_kill:
            crowd.kill_one(rng)
            next_kill = max(next_kill + kill_every, now)
        if now >= next_poll:
            crowd.reap()
            remaining = unanswered_count(it.engine, run_id)
            if remaining == 0:
                break
            if disrupt is not None:
                disrupt(it, 1 - remaining / len(steps))
            next_poll = time.time() + 0.1
        if now - started > timeout:
            timed_out = True
            break
        wake = min(next_kill, next_poll) if kill_every else next_poll
        time.sleep(max(0.0, wake - time.time()))
    answered_in = time.time() - started
    crowd.finish()
    report = check(it, run_id, crowd.events(), person_of)
    report.update(
        backend=it.backend,
        unsafe=it.unsafe,
        tasks=len(steps),
        workers=workers,
        kill_every=kill_every,
        lease=it.lease,
        stall=stall,
        stall_seconds=stall_seconds,
        kills=crowd.kills,
        crashes=crowd.crashes,
        crash_codes=crowd.crash_codes,
        stragglers=crowd.stragglers,
        timed_out=timed_out,
        seconds={
            "prepare": round(prepared, 2),
            "answer_all": round(answered_in, 2),
            "total": round(time.time() - began, 2),
        },
        tasks_per_second=round(len(steps) / answered_in, 1),
        kills_per_second=round(crowd.kills / answered_in, 1),
    )
    report["passed"] = verdict(report)
    return report


def check(it: Setup, run_id: int, events: list[dict], person_of: dict[int, int]) -> dict:
    """The run's counts of what must not happen (see the module's docstring)."""
    from sqlalchemy import select

    from ida.overseers.human.statements import ANSWERS, A, S

    with it.engine.connect() as conn:
        rows = conn.execute(
            select(A.c.id, A.c.state, A.c.fence, S.c.state, S.c.key)
            .select_from(A.join(S, S.c.id == A.c.step_id))
            .where(S.c.run_id == run_id)
        ).all()
        answers = conn.execute(
            select(
                ANSWERS.c.assignment_id, ANSWERS.c.person_id, ANSWERS.c.fence,
                ANSWERS.c.created, ANSWERS.c.move,
            )
            .join(S, S.c.id == ANSWERS.c.step_id)
            .where(S.c.run_id == run_id)
        ).all()  # fmt: skip
    ours = [row[0] for row in rows]
    by_assignment = defaultdict(list)
    for answer in answers:
        by_assignment[answer.assignment_id].append(answer)
    answer_of = {a: found[0] for a, found in by_assignment.items()}

    mine = set(ours)
    grants = defaultdict(dict)  # assignment -> {(worker, fence): lease_until}
    accepted = defaultdict(set)  # assignment -> {(person, fence)} logged as accepted
    counts = Counter()
    for event in events:
        kind = event.get("ev")
        counts[kind] += 1
        if event.get("a") not in mine:
            continue
        if kind == "claim":
            grants[event["a"]].setdefault((event["w"], event["f"]), event["lu"])
        elif kind == "result":
            counts[f"status {event['status']}"] += 1
            if event.get("accepted"):
                accepted[event["a"]].add((person_of[event["w"]], event["f"]))
                counts["repeats"] += bool(event.get("repeat"))

    re_asked = double_grants = stale = 0
    for assignment, granted in grants.items():
        answer = answer_of.get(assignment)
        claims = sorted((fence, lu - it.lease, lu) for (_, fence), lu in granted.items())
        if answer is not None:
            re_asked += sum(at > answer.created + TOLERANCE for _, at, _ in claims)
            stale += any(
                fence > answer.fence and at < answer.created - TOLERANCE for fence, at, _ in claims
            )
        for (f1, _, until1), (f2, at2, _) in zip(claims, claims[1:], strict=False):
            double_grants += f2 > f1 and at2 < until1 - TOLERANCE or f2 == f1
    logged = [len(accepted.get(a, ())) for a in ours]
    return {
        "unanswered": len(ours) - len(by_assignment),
        "answered_twice": sum(len(found) > 1 for found in by_assignment.values()),
        "not_done": sum(state != "done" or done != "done" for _, state, _, done, _ in rows),
        "duplicates": sum(n > 1 for n in logged),
        "unacknowledged": sum(n == 0 for a, n in zip(ours, logged, strict=True) if a in answer_of),
        "phantoms": sum(
            len(found - {(answer_of[a].person_id, answer_of[a].fence)})
            if a in answer_of
            else len(found)
            for a, found in accepted.items()
        ),
        "re_asked": re_asked,
        "double_grants": double_grants,
        "stale_accepts": stale,
        "fence_mismatches": sum(
            answer_of[a].fence != fence for a, _, fence, _, _ in rows if a in answer_of
        ),
        "wrong_moves": sum(  # against the exact H's move on each step
            key in it.truth and answer_of[a].move != it.truth[key]
            for a, _, _, _, key in rows
            if a in answer_of
        ),
        "claims": counts["claim"],
        "submits": counts["send"],
        "accepted": sum(logged),
        "repeats": counts["repeats"],
        "recovered_submits": counts["recover"],
        "stalls": counts["stall"],
        "refused_409": counts["status 409"],
        "gave_up": counts["status 0"],
        "statuses": {k[7:]: v for k, v in counts.items() if k.startswith("status ")},
    }


SAFETY = ("duplicates", "phantoms", "re_asked", "double_grants", "stale_accepts")
LIVENESS = ("unanswered", "answered_twice", "not_done", "unacknowledged", "wrong_moves")


def verdict(report: dict) -> bool:
    """Whether a run with the guards on kept every promise."""
    return (
        not report["timed_out"]
        and report["crashes"] == 0
        and report["fence_mismatches"] == 0
        and all(report[k] == 0 for k in SAFETY + LIVENESS)
    )


def caught(report: dict) -> tuple[bool, str]:
    """Whether a negative control's run shows what its missing guard lets through."""
    if report["unsafe"] == "no-lock":
        seen = report["double_grants"] + report["re_asked"] + report["duplicates"]
        return seen > 0, (
            f"{report['double_grants']} double grants, {report['re_asked']} re-asks, "
            f"{report['duplicates']} duplicate accepts"
        )
    seen = report["stale_accepts"]
    return seen > 0, f"{seen} stale accepts"


# -- scenarios ---------------------------------------------------------------------------------


def _one_step(it: Setup, name: str, seed: int) -> tuple[dict, dict]:
    """Post one step to a run of its own; returns (context, H's move)."""
    [(context, level, move)] = sample_steps(1, seed)
    it.post(f"{name}-{time.time_ns()}", [(context, level, move)])
    return context, move


def _answers(it: Setup, assignment: int) -> list[tuple[int, int]]:
    from sqlalchemy import select

    from ida.overseers.human.statements import ANSWERS

    with it.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(ANSWERS.c.person_id, ANSWERS.c.fence).where(
                    ANSWERS.c.assignment_id == assignment
                )
            )
        ]


def _other(move: dict) -> dict:
    """A valid move other than ``move``."""
    return {"answer": (move["answer"] + 1) % SIZE} if "answer" in move else {"answer": 0}


def scenario_closed_tab(it: Setup, directory: Path, options) -> dict:
    """A claim never submitted: after its lease another person gets the task."""
    _, move = _one_step(it, "closed-tab", 101)
    (_, token_a), (id_b, token_b) = it.person("closed-tab-a"), it.person("closed-tab-b")
    a, b = Api(it.base, token_a), Api(it.base, token_b)
    status_a, first = a.call("/api/claim")
    status_b, _ = b.call("/api/claim")  # nothing else is queued: A holds the only task
    time.sleep(max(0.0, first["lease_until"] - time.time()) + 0.2)
    began = time.time()
    status_b2, second = b.call("/api/claim")
    late, refusal = a.call(
        f"/api/tasks/{first['assignment']}/submit", {"fence": first["fence"], "move": move}
    )
    status_ok, ok = b.call(
        f"/api/tasks/{second['assignment']}/submit", {"fence": second["fence"], "move": move}
    )
    answers = _answers(it, first["assignment"])
    return {
        "first_claim": [status_a, first.get("fence")],
        "second_claim_while_held": status_b,
        "second_claim_after_lease": [status_b2, second.get("assignment"), second.get("fence")],
        "late_submit": [late, refusal.get("error")],
        "holder_submit": [status_ok, ok],
        "answers": answers,
        "reassigned_after_seconds": round(began - first["lease_until"] + it.lease, 2),
        "passed": status_a == 200
        and status_b == 204
        and status_b2 == 200
        and second["assignment"] == first["assignment"]
        and second["fence"] > first["fence"]
        and late == 409
        and status_ok == 200
        and ok == {"accepted": True, "repeat": False}
        and answers == [(id_b, second["fence"])],
    }


def scenario_two_tabs(it: Setup, directory: Path, options) -> dict:
    """One person claims in two tabs: the same task; both submit; then a third, differently."""
    _, move = _one_step(it, "two-tabs", 102)
    _, token = it.person("two-tabs")
    tabs = [Api(it.base, token) for _ in range(3)]
    claims = [tab.call("/api/claim") for tab in tabs[:2]]
    (s1, c1), (s2, c2) = claims
    path = f"/api/tasks/{c1['assignment']}/submit"
    r1 = tabs[0].call(path, {"fence": c1["fence"], "move": move})
    r2 = tabs[1].call(path, {"fence": c2["fence"], "move": move})
    r3 = tabs[2].call(path, {"fence": c2["fence"], "move": _other(move)})
    answers = _answers(it, c1["assignment"])
    return {
        "claims": [
            [s1, c1.get("assignment"), c1.get("fence")],
            [s2, c2.get("assignment"), c2.get("fence")],
        ],
        "submits": [list(r1), list(r2), list(r3)],
        "answers": answers,
        "passed": s1 == s2 == 200
        and (c1["assignment"], c1["fence"]) == (c2["assignment"], c2["fence"])
        and r1 == (200, {"accepted": True, "repeat": False})
        and r2 == (200, {"accepted": True, "repeat": True})
        and r3[0] == 409
        and len(answers) == 1,
    }


def scenario_retry(it: Setup, directory: Path, options) -> dict:
    """A submission whose connection closes before its response is read, then resubmitted."""
    _, move = _one_step(it, "retry", 103)
    _, token = it.person("retry")
    api = Api(it.base, token)
    status, claim = api.call("/api/claim")
    path = f"/api/tasks/{claim['assignment']}/submit"
    body = json.dumps({"fence": claim["fence"], "move": move}).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{it.port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", it.port)) as sock:
        sock.sendall(request)  # and closed at once: the response is never read
    until = time.time() + 3
    while not _answers(it, claim["assignment"]) and time.time() < until:
        time.sleep(0.05)
    ran = bool(_answers(it, claim["assignment"]))
    again = api.call(path, {"fence": claim["fence"], "move": move})
    third = api.call(path, {"fence": claim["fence"], "move": move})
    answers = _answers(it, claim["assignment"])
    return {
        "claim": status,
        "dropped_submit_ran": ran,
        "resubmit": list(again),
        "resubmit_again": list(third),
        "answers": answers,
        "passed": status == 200
        and again == (200, {"accepted": True, "repeat": ran})
        and third == (200, {"accepted": True, "repeat": True})
        and len(answers) == 1,
    }


def scenario_server_kill(it: Setup, directory: Path, options) -> dict:
    """The fault run with the server SIGKILLed at a third and two thirds of the answers and
    restarted on the same database."""
    restarts = []

    def disrupt(it: Setup, share: float) -> None:
        if len(restarts) < 2 and share >= (len(restarts) + 1) / 3:
            it.kill_server()
            restarts.append(round(it.start_server(), 2))

    report = run_faults(it, directory, disrupt=disrupt, name="server-kill", **options)
    report.update(server_kills=len(restarts), restart_seconds=restarts)
    report["passed"] = report["passed"] and len(restarts) == 2
    return report


def scenario_postgres_immediate(it: Setup, directory: Path, options) -> dict:
    """The fault run with PostgreSQL stopped by ``pg_ctl stop -m immediate`` (a crash) at 40%
    of the answers and started again half a second later."""
    if it.postgres is None:
        return {"skipped": "needs --backend postgresql", "passed": True}
    crashes = []

    def disrupt(it: Setup, share: float) -> None:
        if not crashes and share >= 0.4:
            began = time.time()
            it.postgres.stop("immediate")
            time.sleep(0.5)
            it.postgres.start()
            crashes.append(round(time.time() - began, 2))

    report = run_faults(it, directory, disrupt=disrupt, name="pg-immediate", **options)
    report.update(postgres_crashes=len(crashes), postgres_down_seconds=crashes)
    report["passed"] = report["passed"] and len(crashes) == 1
    return report


SCENARIOS = {
    "server-kill": scenario_server_kill,
    "postgres-immediate": scenario_postgres_immediate,
    "closed-tab": scenario_closed_tab,
    "two-tabs": scenario_two_tabs,
    "retry": scenario_retry,
}


# -- the command line ------------------------------------------------------------------------


def faults(
    backend: str,
    directory: Path,
    unsafe: str | None = None,
    lease: float = 2.0,
    cluster=None,
    **options,
) -> dict:
    """One fault run on a fresh setup; with ``unsafe``, ``passed`` means the harness caught
    what the missing guard let through."""
    with ExitStack() as stack:
        if cluster is None:
            cluster = stack.enter_context(postgres_cluster(backend))
        it = stack.enter_context(setup(backend, directory, lease, unsafe, cluster))
        report = run_faults(it, directory, **options)
    if unsafe:
        report["passed"], report["caught"] = caught(report)
    return report


def scenario(name: str, backend: str, directory: Path, lease: float, cluster, options) -> dict:
    with setup(backend, directory, lease, None, cluster) as it:
        began = time.time()
        report = SCENARIOS[name](it, directory, options)
    report.update(scenario=name, backend=backend, scenario_seconds=round(time.time() - began, 2))
    return report


def summary(report: dict) -> str:
    name = report.get("scenario") or "faults"
    if report.get("unsafe"):
        name += f" --unsafe {report['unsafe']}"
    if "skipped" in report:
        return f"{name} ({report['backend']}): skipped, {report['skipped']}"
    word = "PASS" if report["passed"] else "FAIL"
    if "tasks" not in report:
        details = {k: v for k, v in report.items() if k not in ("scenario", "backend", "passed")}
        return f"{name} ({report['backend']}): {word}: {json.dumps(details)}"
    counts = ", ".join(f"{k} {report[k]}" for k in SAFETY + LIVENESS + ("fence_mismatches",))
    if "server_kills" in report:
        name += f" ({report['server_kills']} server kills, restarts {report['restart_seconds']} s)"
    if "postgres_crashes" in report:
        name += f" (PostgreSQL down {report['postgres_down_seconds']} s)"
    line = (
        f"{name} ({report['backend']}): {word}: {report['tasks']} tasks by "
        f"{report['workers']} workers in {report['seconds']['answer_all']} s "
        f"({report['tasks_per_second']}/s), {report['kills']} kills, {report['stalls']} stalls, "
        f"{report['recovered_submits']} recovered submits, {report['repeats']} repeats; {counts}"
    )
    trouble = [f"{k} {report[k]}" for k in ("crashes", "stragglers", "timed_out") if report[k]]
    if trouble:
        line += "; " + ", ".join(trouble)
    if report.get("unsafe"):
        line += (
            f"\n  the harness {'caught' if report['passed'] else 'did NOT catch'} it: "
            f"{report['caught']}"
        )
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--kill-every", type=float, default=0.05, help="seconds; 0: no kills")
    parser.add_argument("--lease", type=float, default=2.0, help="the server's lease, seconds")
    parser.add_argument(
        "--stall",
        type=float,
        default=None,
        help="share of claims that stall past the lease (default 0.03; 0.3 with no-fence)",
    )
    parser.add_argument("--stall-seconds", type=float, default=None, help="default 1.5 leases")
    parser.add_argument("--think", type=float, default=0.0, help="max think seconds per claim")
    parser.add_argument("--unsafe", choices=("no-lock", "no-fence"))
    parser.add_argument("--scenario", choices=("faults", *SCENARIOS, "all"), default="faults")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the logs and databases")
    args = parser.parse_args(argv)
    stall = args.stall if args.stall is not None else 0.3 if args.unsafe == "no-fence" else 0.03
    options = dict(
        tasks=args.tasks, workers=args.workers, kill_every=args.kill_every, stall=stall,
        stall_seconds=args.stall_seconds, think=args.think, seed=args.seed, timeout=args.timeout,
    )  # fmt: skip
    directory = Path(tempfile.mkdtemp(prefix="ida-faults-"))
    reports = []
    try:
        with postgres_cluster(args.backend) as cluster:
            if args.scenario == "faults":
                reports.append(
                    faults(args.backend, directory, args.unsafe, args.lease, cluster, **options)
                )
            else:
                names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
                for name in names:
                    reports.append(
                        scenario(name, args.backend, directory, args.lease, cluster, options)
                    )
                    if not args.json:
                        print(summary(reports[-1]), flush=True)
    finally:
        if args.keep:
            print(f"logs and databases kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
    elif args.scenario == "faults":
        print(summary(reports[0]))
    return 0 if all(r["passed"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
