"""Scripted people for the workbench: each plays the overseer H over the JSON API, as a person
at the workbench would, and counts the steps it answered.

    python benchmarks/workbench_client.py --url http://127.0.0.1:8000 --tokens-file tokens.txt \\
        --people 8 --think 2 [--duration SECONDS] [--stop-when-idle SECONDS] [--json]

A person (``ScriptedPerson``, one token each) loops: ``POST /api/claim`` (204: nothing queued,
wait and ask again); H's exact step worked out from what the claim returned alone (the task
rebuilt by ``get_task(task, size)``, the instance by ``task.read_instance(facts)``, the step by
``task.next_step(instance, question, answered)``), sent as ``{"answer": N}`` or
``{"ask": [[tokens], ...]}``; a think time (``--think`` seconds, spread by ``--jitter``), with
heartbeats every third of the lease while it lasts longer than that; then the submission.
Connection errors and 5xx answers (a server or database restarting) are retried with backoff
for up to ``retry_for`` seconds: a retried submission is harmless (the server answers
``repeat: true`` if the first one was accepted). A submission refused with 409 (the lease ran
out and someone else has the task) is counted and the person goes on; one refused as invalid
(422: H's exact move should never be) ends that person with the server's reason, since the
held task would come back to them with the same move.

``run_people(url, tokens, think, stop_when_idle=..., until=...)`` runs many people in one
asyncio loop, each over an ``httpx.AsyncClient`` of their own, and returns each
person's counts (steps, claims, claim latencies, repeats, refusals, retries). The CLI prints a
summary (``--json``: as JSON) when the people stop: ``--duration`` passed, idle for
``--stop-when-idle`` seconds, or SIGINT/SIGTERM (so a benchmark can end it with its run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from ida.domains.qa.overseers.human import exact_move
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import Task
from ida.domains.text.config import TASKS as TEXT_TASKS
from ida.domains.text.workbench import TextBench

try:
    import sniffio  # noqa: F401
except ImportError:  # httpcore imports it on every request: make each miss instant, not a
    sys.modules["sniffio"] = None  # search of sys.path (a quarter of a millisecond)

_TASKS: dict[tuple[str, int], Task] = {}


def task_of(name: str, size: int) -> Task:
    """The task ``name`` at ``size`` (made once per process)."""
    if (name, size) not in _TASKS:
        _TASKS[name, size] = get_task(name, size)
    return _TASKS[name, size]


def h_move(claim: dict) -> dict:
    """H's exact step on a claimed task, from what the claim returned alone, as the API takes
    it: {"answer": N} or {"ask": [[tokens], ...]}; in the text domain the scripted reader's
    typed move ({"answer": text} or {"ask": [text, ...]})."""
    if claim["task"] in TEXT_TASKS:
        return TextBench().scripted_move(claim["context"])
    return exact_move(task_of(claim["task"], claim["size"]), claim["context"])


class GaveUp(Exception):
    """The server did not answer for ``retry_for`` seconds."""


@dataclass
class Tally:
    """What one person did."""

    name: str
    steps: int = 0  # submissions accepted (a repeat after a retry counts once)
    claims: int = 0  # claims that got a task
    idle: int = 0  # claims answered 204
    repeats: int = 0  # submissions answered repeat: true (a retry of an accepted one)
    refused: Counter = field(default_factory=Counter)  # submissions refused, by status
    lost: int = 0  # tasks whose heartbeat was refused (the lease had run out)
    heartbeats: int = 0
    retries: int = 0  # requests sent again after a connection error or a 5xx
    claim_seconds: list[float] = field(default_factory=list)  # latency of each 200 claim
    claim_at: list[float] = field(default_factory=list)  # when each ended (time.time())
    submit_seconds: list[float] = field(default_factory=list)


Until = float | Callable[[], bool] | None  # an end time (time.time()), or a predicate


class ScriptedPerson:
    """One person with ``token`` playing H over ``client`` (an ``httpx.AsyncClient`` whose
    base URL is the workbench's)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: str,
        think: float = 0.0,
        jitter: float = 0.0,
        name: str | None = None,
        retry_for: float = 60.0,
        idle_wait: float = 0.5,
        seed: int | None = None,
    ):
        self.client, self.think, self.jitter = client, think, jitter
        self.headers = {"Authorization": f"Bearer {token}"}
        self.retry_for, self.idle_wait = retry_for, idle_wait
        self.tally = Tally(name or token[:6])
        self.rng = random.Random(seed)
        self.stopping = asyncio.Event()

    async def post(self, path: str, body: dict | None = None) -> httpx.Response:
        """POST, retried after connection errors and 5xx answers for up to ``retry_for``."""
        give_up, pause = time.monotonic() + self.retry_for, 0.05
        while True:
            try:
                response = await self.client.post(path, json=body, headers=self.headers)
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > give_up:
                raise GaveUp(f"{path}: no answer for {self.retry_for:g} s")
            self.tally.retries += 1
            await asyncio.sleep(pause * (0.5 + self.rng.random()))
            pause = min(2 * pause, 2.0)

    async def claim(self) -> dict | None:
        began = time.perf_counter()
        response = await self.post("/api/claim")
        if response.status_code == 204:
            self.tally.idle += 1
            return None
        if response.status_code != 200:
            raise GaveUp(f"claim refused: {response.status_code} {response.text[:200]}")
        self.tally.claims += 1
        self.tally.claim_seconds.append(time.perf_counter() - began)
        self.tally.claim_at.append(time.time())
        return response.json()

    async def ponder(self, claim: dict) -> bool:
        """Think for the think time, heartbeating every third of the lease while it lasts
        longer than that; False if a heartbeat was refused (the task is lost)."""
        seconds = self.think * (1 + self.jitter * (2 * self.rng.random() - 1))
        lease = claim["lease_until"] - time.time()
        done = time.monotonic() + seconds
        while (left := done - time.monotonic()) > 0:
            beat = left > lease / 3
            await self._sleep(min(left, lease / 3) if beat else left)
            if self.stopping.is_set():
                return False
            if beat and done - time.monotonic() > 0:
                response = await self.post(
                    f"/api/tasks/{claim['assignment']}/heartbeat", {"fence": claim["fence"]}
                )
                self.tally.heartbeats += 1
                if response.status_code != 200:
                    self.tally.lost += 1
                    return False
                lease = response.json()["lease_until"] - time.time()
        return True

    async def submit(self, claim: dict, move: dict) -> None:
        began = time.perf_counter()
        response = await self.post(
            f"/api/tasks/{claim['assignment']}/submit", {"fence": claim["fence"], "move": move}
        )
        self.tally.submit_seconds.append(time.perf_counter() - began)
        if response.status_code == 200:
            self.tally.steps += 1
            self.tally.repeats += bool(response.json().get("repeat"))
            return
        self.tally.refused[response.status_code] += 1
        if response.status_code == 422:
            raise GaveUp(f"move {move} refused: {response.text[:200]}")

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def run(self, stop_when_idle: bool | float = True, until: Until = None) -> Tally:
        """Answer tasks until ``until`` (an end time, or a predicate that says stop), or the
        queue is empty (``stop_when_idle=True``) or has been for that many seconds (a number;
        False: never), or ``stopping`` is set."""
        idle_since = None
        while not self.stopping.is_set() and not _over(until):
            claim = await self.claim()
            if claim is None:
                now = time.monotonic()
                idle_since = idle_since or now
                if stop_when_idle is True or (
                    stop_when_idle is not False and now - idle_since >= stop_when_idle
                ):
                    break
                await self._sleep(self.idle_wait)
                continue
            idle_since = None
            move = h_move(claim)
            if self.think and not await self.ponder(claim):
                continue
            await self.submit(claim, move)
        return self.tally


def _over(until: Until) -> bool:
    if until is None:
        return False
    if callable(until):
        return bool(until())
    return time.time() >= until


async def people(
    url: str,
    tokens: Sequence[str],
    think: float = 0.0,
    stop_when_idle: bool | float = True,
    until: Until = None,
    jitter: float = 0.0,
    retry_for: float = 60.0,
    on_start: Callable[[list[ScriptedPerson]], None] | None = None,
) -> list[Tally]:
    """``run_people`` inside a running event loop. Each person has a client (one kept-alive
    connection) of their own: httpx's pool scans all its connections for every request, so
    one pool shared by 200 people spends the client's CPU on that scan."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(30.0, connect=10.0)
    tls = httpx.create_ssl_context()  # made once: loading the CA store takes ~20 ms
    async with contextlib.AsyncExitStack() as stack:
        crowd = []
        for i, token in enumerate(tokens):
            http = httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, verify=tls)
            await stack.enter_async_context(http)
            crowd.append(ScriptedPerson(http, token, think, jitter, f"p{i}", retry_for, seed=i))
        if on_start is not None:
            on_start(crowd)
        results = await asyncio.gather(
            *(p.run(stop_when_idle, until) for p in crowd), return_exceptions=True
        )
    for person, result in zip(crowd, results, strict=True):
        if isinstance(result, BaseException):
            person.tally.refused[f"gave up: {result}"[:120]] += 1
    return [p.tally for p in crowd]


def run_people(
    url: str,
    tokens: Sequence[str],
    think: float = 0.0,
    stop_when_idle: bool | float = True,
    until: Until = None,
    **options,
) -> list[Tally]:
    """Run one scripted person per token against the workbench at ``url`` until they stop
    (see ``ScriptedPerson.run``); returns each person's tally."""
    return asyncio.run(people(url, tokens, think, stop_when_idle, until, **options))


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def summarise(tallies: Sequence[Tally], seconds: float) -> dict:
    """The crowd's totals: steps, claims per second, claim latency percentiles (ms)."""
    latencies = [s for t in tallies for s in t.claim_seconds]
    submits = [s for t in tallies for s in t.submit_seconds]
    refused = Counter()
    for t in tallies:
        refused.update({str(k): v for k, v in t.refused.items()})

    def ms(values, q):
        value = percentile(values, q)
        return None if value is None else round(1000 * value, 2)

    return {
        "people": len(tallies),
        "seconds": round(seconds, 2),
        "steps": sum(t.steps for t in tallies),
        "claims": sum(t.claims for t in tallies),
        "claims_per_second": round(sum(t.claims for t in tallies) / max(seconds, 1e-9), 1),
        "claim_ms": {"p50": ms(latencies, 50), "p99": ms(latencies, 99), "max": ms(latencies, 100)},
        "submit_ms": {"p50": ms(submits, 50), "p99": ms(submits, 99)},
        "repeats": sum(t.repeats for t in tallies),
        "refused": dict(refused),
        "lost": sum(t.lost for t in tallies),
        "heartbeats": sum(t.heartbeats for t in tallies),
        "retries": sum(t.retries for t in tallies),
        "steps_per_person": {t.name: t.steps for t in tallies},
    }


def read_tokens(path: Path) -> list[str]:
    """The tokens in a file: the last word of each line that is not blank or a # comment (so
    ``ida workbench add-user``'s output, or "name token" lines, both work)."""
    return [
        line.split()[-1]
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the workbench, e.g. http://127.0.0.1:8000")
    parser.add_argument("--tokens-file", required=True, type=Path, help="one token per line")
    parser.add_argument("--people", type=int, help="how many people (default: one per token)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds per step")
    parser.add_argument("--jitter", type=float, default=0.0, help="think time spread, 0..1")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--stop-when-idle", type=float, help="stop once the queue has been empty this long"
    )
    parser.add_argument("--retry-for", type=float, default=60.0, help="seconds to keep retrying")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    tokens = read_tokens(args.tokens_file)
    if args.people is not None:
        if args.people > len(tokens):
            parser.error(f"--people {args.people}: {args.tokens_file} has {len(tokens)} tokens")
        tokens = tokens[: args.people]
    if not tokens:
        parser.error(f"no tokens in {args.tokens_file}")
    until = None if args.duration is None else time.time() + args.duration
    idle = False if args.stop_when_idle is None else args.stop_when_idle

    def on_start(crowd: list[ScriptedPerson]) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: [p.stopping.set() for p in crowd])

    began = time.perf_counter()
    tallies = asyncio.run(
        people(
            args.url.rstrip("/"), tokens, args.think, idle, until, args.jitter, args.retry_for,
            on_start=on_start,
        )
    )  # fmt: skip
    summary = summarise(tallies, time.perf_counter() - began)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['people']} people answered {summary['steps']} steps in "
            f"{summary['seconds']} s ({summary['claims_per_second']} claims/s; claim p50 "
            f"{summary['claim_ms']['p50']} ms, p99 {summary['claim_ms']['p99']} ms); "
            f"{summary['repeats']} repeats, refused {summary['refused'] or 0}, "
            f"{summary['heartbeats']} heartbeats, {summary['lost']} lost, "
            f"{summary['retries']} retries"
        )
        print(
            "steps per person:",
            " ".join(f"{k}={v}" for k, v in summary["steps_per_person"].items()),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
