"""Replicas as Ray actors, on a cluster (``address``) or on a Ray started here.

The weights of a version are put in the object store once and each part's call carries the
reference, boxed in a list so that Ray does not fetch it for every call: an actor fetches it
only when its version changes. An actor that dies is restarted by Ray, with its memory empty
(it fetches the weights again); each of its lost calls is reported, and ``pool.py`` starts the
part again.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from typing import Any

from ida.core.errors import IdaError
from ida.core.runs.config import RunConfig
from ida.workers.replica import Done, Lost, Replica, WorkerFailed

try:
    import ray
    from ray.exceptions import (
        ActorDiedError,
        ActorUnavailableError,
        GetTimeoutError,
        RayActorError,
        RayTaskError,
    )
except ImportError:  # the extra is not installed
    ray = None


class RayReplica:
    """A ``Replica`` as an actor."""

    def __init__(self, cfg: RunConfig, threads: int):
        self.replica = Replica(cfg, threads)

    def pid(self) -> int:
        return os.getpid()

    def expand(self, task: int, version: int, boxed: list, part: Any) -> Done:
        if self.replica.version != version:
            self.replica.load(version, ray.get(boxed[0]))
        used, result = self.replica.expand(part)
        return Done(task, used, result)


def connect(address: str | None, cpus: int, temp_dir: str | None = None) -> bool:
    """Join the cluster at ``address``, or start a Ray here with ``cpus`` CPUs; True if this
    call started (and so should stop) it. An unreachable cluster is a one-line error."""
    if ray is None:
        raise IdaError("--backend ray needs Ray: pip install 'ida[ray]'")
    if ray.is_initialized():
        return False
    options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False)
    if address is None:
        options.update(num_cpus=cpus, _temp_dir=temp_dir)
    else:
        reachable(address)
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise IdaError(f"cannot reach the Ray cluster at {address}: {first}") from None
    return True


def reachable(address: str, seconds: float = 5.0) -> None:
    """A one-line error if nothing answers at a ``host:port`` address (Ray itself would retry
    for minutes); other forms ("auto", "ray://...") are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in host:
        return
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise IdaError(f"cannot reach the Ray cluster at {address}: {why}") from None


class RayBackend:
    """``size`` ``RayReplica`` actors, each asking for ``threads`` CPUs."""

    def __init__(self, cfg: RunConfig, size: int, threads: int = 1, address: str | None = None):
        self.size, self.stats = size, Counter()
        self.revive_seconds = 60.0  # how long a lost actor has to come back
        started = time.perf_counter()
        self.owns = connect(address, max(size * threads, os.cpu_count() or 1))
        actor = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=0)(RayReplica)
        self.actors = [actor.remote(cfg, threads) for _ in range(size)]
        self.refs: dict[int, Any] = {}
        self.calls: dict[Any, tuple[int, int]] = {}  # call -> (worker, task)
        try:
            ray.get([a.pid.remote() for a in self.actors])  # built and ready
        except RayActorError as err:
            raise WorkerFailed(f"a Ray worker could not build its replica: {err}") from None
        self.stats["start_seconds"] = time.perf_counter() - started

    def ship(self, version: int, weights: dict) -> None:
        self.refs[version] = ray.put(weights)
        self.stats["weights_put"] += 1

    def forget(self, below: int) -> None:
        for version in [v for v in self.refs if v < below]:
            del self.refs[version]

    def start(self, worker: int, task: int, version: int, part: Any) -> None:
        call = self.actors[worker].expand.remote(task, version, [self.refs[version]], part)
        self.calls[call] = (worker, task)

    def wait(self) -> list[Done | Lost]:
        try:
            ready, _ = ray.wait(list(self.calls), num_returns=1, timeout=60.0)
        except Exception as err:  # the cluster went away under us
            why = type(err).__name__
            raise IdaError(f"the Ray cluster is gone ({why}); resume with --resume") from None
        events: list[Done | Lost] = []
        for call in ready:
            worker, task = self.calls.pop(call)
            try:
                events.append(ray.get(call))
            except (ActorDiedError, ActorUnavailableError, RayActorError):
                self.stats["calls_lost"] += 1
                self._revive(worker, self.revive_seconds)
                events.append(Lost(worker, task))
            except RayTaskError as err:
                raise WorkerFailed(f"worker {worker} failed expanding:\n{err}") from None
            except GetTimeoutError:
                raise IdaError("the Ray cluster stopped answering; resume with --resume") from None
        return events

    def _revive(self, worker: int, seconds: float) -> None:
        """Wait until Ray has restarted ``worker``'s actor (a call to it while it restarts
        would fail at once), or give up with a one-line error."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                ray.get(self.actors[worker].pid.remote(), timeout=seconds)
                return
            except (ActorUnavailableError, GetTimeoutError, RayActorError):
                if time.monotonic() > deadline:
                    raise IdaError(
                        f"Ray worker {worker} did not come back in {seconds:.0f} s; "
                        "resume with --resume"
                    ) from None
                time.sleep(0.2)

    def pids(self) -> list[int]:
        return ray.get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors, self.calls, self.refs = [], {}, {}
        if self.owns:
            ray.shutdown()
