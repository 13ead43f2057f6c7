"""Replicas as processes on this machine, each fed through its own pipe.

Each worker is a fresh (spawned) Python process that builds its replica and then serves
messages: the weights of a version (sent to a worker once, just before its first part that
needs them) and parts to expand. A worker that dies is noticed by its process sentinel, its
last messages are read, and a new process takes its place.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import queue
import threading
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection, wait
from typing import Any

from ida.core.runs.config import RunConfig
from ida.workers.replica import Done, Lost, Replica, WorkerFailed


def serve(conn: Connection, cfg: RunConfig, threads: int) -> None:
    """A worker's life: build the replica, then answer messages until told to stop."""
    try:
        replica = Replica(cfg, threads)
    except Exception:
        conn.send(("failed", None, traceback.format_exc()))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the learner is gone
        kind = message[0]
        if kind == "stop":
            return
        if kind == "weights":
            replica.load(message[1], message[2])
            continue
        task, part = message[1], message[2]
        try:
            version, result = replica.expand(part)
        except Exception:
            conn.send(("failed", task, traceback.format_exc()))
            continue
        conn.send(("done", task, version, result))


class _Worker:
    """One worker process, its pipe, and a thread that sends it messages in order, so that the
    learner never waits for a busy worker to read."""

    def __init__(self, context: Any, cfg: RunConfig, threads: int, name: str):
        self.conn, child = context.Pipe()
        self.proc = context.Process(
            target=serve, args=(child, cfg, threads), daemon=True, name=name
        )
        self.proc.start()
        child.close()
        self.holds = 0  # the weights version it has been sent
        self.broken = False  # a send found it dead
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._pump, daemon=True).start()

    def send(self, message: tuple) -> None:
        self.outbox.put(message)

    def _pump(self) -> None:
        while (message := self.outbox.get()) is not None:
            try:
                self.conn.send(message)
            except (OSError, ValueError):  # dead or closed: noticed by ``wait``
                self.broken = True
                return

    def end(self, kill: bool = False) -> None:
        self.outbox.put(None)
        if kill and self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


class LocalBackend:
    """``size`` worker processes running ``Replica(cfg, threads)``; ready when built."""

    def __init__(self, cfg: RunConfig, size: int, threads: int = 1):
        self.cfg, self.size, self.threads = cfg, size, threads
        # forked from a clean server process that has imported torch and ida once: a worker
        # (or its replacement) starts in a fraction of a second, with no copy of the learner's
        # threads or locks
        self.context = mp.get_context("forkserver")
        self.context.set_forkserver_preload(["torch", "ida.workers.local"])
        self.weights: dict[int, bytes] = {}
        self.stats: Counter = Counter()
        started = time.perf_counter()
        self.workers = [self._spawn(worker) for worker in range(size)]
        for worker in range(size):
            self._ready(worker)
        self.stats["start_seconds"] = time.perf_counter() - started

    def _spawn(self, worker: int) -> _Worker:
        return _Worker(self.context, self.cfg, self.threads, f"ida-worker-{worker}")

    def _ready(self, worker: int) -> None:
        """Wait for ``worker``'s replica to be built."""
        conn = self.workers[worker].conn
        try:
            message = conn.recv()
        except (EOFError, OSError):
            raise WorkerFailed(f"worker {worker} died while building its replica") from None
        self._read(worker, message)

    def ship(self, version: int, weights: dict) -> None:
        self.weights[version] = pickle.dumps(weights, protocol=pickle.HIGHEST_PROTOCOL)
        self.stats["weights_bytes"] = len(self.weights[version])

    def forget(self, below: int) -> None:
        for version in [v for v in self.weights if v < below]:
            del self.weights[version]

    def start(self, worker: int, task: int, version: int, part: Any) -> None:
        target = self.workers[worker]
        if target.holds != version:
            target.send(("weights", version, self.weights[version]))
            target.holds = version
            self.stats["weights_sent"] += 1
        target.send(("expand", task, part))

    def wait(self) -> list[Done | Lost]:
        broken = [w for w, target in enumerate(self.workers) if target.broken]
        if broken:
            return [self._replace(worker) for worker in broken]
        sentinels = {target.proc.sentinel: w for w, target in enumerate(self.workers)}
        readers = {id(target.conn): w for w, target in enumerate(self.workers)}
        events: list[Done | Lost] = []
        lost: set[int] = set()
        conns = [target.conn for target in self.workers]
        for ready in wait([*conns, *sentinels], timeout=1.0):
            if isinstance(ready, int):
                worker = sentinels[ready]
                events += self._drain(worker)
                lost.add(worker)
                continue
            worker = readers[id(ready)]
            try:
                events += self._read(worker, ready.recv())
            except (EOFError, OSError):
                lost.add(worker)
        return events + [self._replace(worker) for worker in sorted(lost)]

    def _drain(self, worker: int) -> list[Done]:
        """What a dead worker sent before it died."""
        conn, found = self.workers[worker].conn, []
        try:
            while conn.poll():
                found += self._read(worker, conn.recv())
        except (EOFError, OSError):
            pass
        return found

    def _read(self, worker: int, message: tuple) -> list[Done]:
        """The part a message says is done (none for a replacement saying it is ready)."""
        if message[0] == "ready":
            return []
        if message[0] == "failed":
            what = "could not build its replica" if message[1] is None else "failed expanding"
            raise WorkerFailed(f"worker {worker} {what}:\n{message[2]}")
        return [Done(message[1], message[2], message[3])]

    def _replace(self, worker: int) -> Lost:
        """A new process in place of ``worker``, which is gone (its parts: ``pool.py``)."""
        self.workers[worker].end(kill=True)
        self.workers[worker] = self._spawn(worker)
        self.stats["workers_replaced"] += 1
        return Lost(worker)

    def pids(self) -> list[int]:
        return [target.proc.pid for target in self.workers]

    def close(self) -> None:
        for target in self.workers:
            target.send(("stop",))
        for target in self.workers:
            target.end()
