"""Runs thousands of coroutines at once and answers their model calls in shared batches.

Amplification code is ordinary sequential ``async`` code. Where it needs a model it awaits a
``Call``; where it needs other coroutines run to completion (recursion, subtrees) it awaits a
``Spawn``; where it needs an answer that arrives from outside the process (a person, a remote
worker) it awaits an ``Outside`` ticket, and is parked until ``Engine.deliver`` (from any
thread) hands it the answer. The engine steps every coroutine until each is blocked, then
answers all pending ``Call``s to the same function with one batched call, and repeats; parked
coroutines cost nothing meanwhile. Nothing here knows about questions or overseers, so
search-based amplification plugs in the same way.
"""

from __future__ import annotations

import gc
import queue
import sys
from collections import deque
from collections.abc import Callable, Coroutine, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

BatchFn = Callable[[list[Any]], Sequence[Any]]


class Call:
    """Await to have ``fn`` applied to ``items``, batched with all other pending calls to it."""

    __slots__ = ("fn", "items")

    def __init__(self, fn: BatchFn, items: list[Any]):
        self.fn, self.items = fn, items

    def __await__(self):
        return (yield self)


class Spawn:
    """Await to run child coroutines concurrently; returns their results in order."""

    __slots__ = ("coros",)

    def __init__(self, coros: list[Coroutine]):
        self.coros = coros

    def __await__(self):
        return (yield self)


class _Throw:
    """Resumes a coroutine by raising ``error`` inside it, where it awaited."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


class Outside:
    """Await to be parked until the answer for ``ticket`` is delivered (``Engine.deliver``)."""

    __slots__ = ("ticket",)

    def __init__(self, ticket: Hashable):
        self.ticket = ticket

    def __await__(self):
        return (yield self)


class Staged:
    """A batch function in three stages: ``prepare`` (items -> inputs) and ``finish`` (items,
    inputs, outputs -> answers) are its Python, ``compute`` (inputs -> outputs) the model's
    forward pass. Called, it runs the three in turn. An engine with lanes runs ``prepare`` and
    ``finish`` on its own thread, between the coroutines' steps, and only ``compute`` in the
    worker, so the worker's time is the forward's alone."""

    __slots__ = ("prepare", "compute", "finish")

    def __init__(
        self,
        prepare: Callable[[list[Any]], Any],
        compute: Callable[[Any], Any],
        finish: Callable[[list[Any], Any, Any], Sequence[Any]],
    ):
        self.prepare, self.compute, self.finish = prepare, compute, finish

    def __call__(self, items: list[Any]) -> Sequence[Any]:
        inputs = self.prepare(items)
        return self.finish(items, inputs, self.compute(inputs))


@dataclass
class EngineStats:
    """Counters over an engine's lifetime: batched calls made and items they answered."""

    batches: int = 0
    items: int = 0
    rounds: int = 0
    parked: int = 0  # coroutines that waited for an answer from outside

    @property
    def mean_batch(self) -> float:
        return self.items / max(self.batches, 1)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the engine runs. Trees allocate hundreds of
    thousands of short-lived objects (frames, nodes, lists) that form no cycles; the collections
    that allocation sets off traverse the whole heap and cost as much as the trees themselves."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Frame:
    __slots__ = ("coro", "parent", "slot", "lane", "results", "waiting")

    def __init__(self, coro: Coroutine, parent: _Frame | None, slot: int, lane: int):
        self.coro, self.parent, self.slot, self.lane = coro, parent, slot, lane
        self.results: list[Any] = []
        self.waiting = 0


Answers = list[tuple[_Frame, list[Any]]]  # each frame with the answers to resume it with
Pending = dict[BatchFn, list[tuple[_Frame, list[Any]]]]  # each function's calls awaiting it
# a lane's pending calls and its batches in the worker: (function, items, inputs, future) each
Launched = tuple[Pending, list[tuple[BatchFn, list[Any], Any, Future]]]


class Engine:
    """Drives coroutines to completion, batching their ``Call``s up to ``max_batch`` items.

    With ``lanes`` > 1 the coroutines are dealt round-robin into that many lanes (a spawned
    coroutine joins its parent's), each batched on its own, and batch functions run one at a
    time in a worker thread: while one lane's batch is computed, the others' coroutines step.
    That overlaps the Python of the coroutines with a model's forward pass (which releases the
    GIL inside its operations); during such a run Python's thread switch interval is
    ``switch_interval`` seconds, so the worker gets the GIL back between operations. A batch
    function then runs while coroutines step (other lanes', and its own lane's where an answer
    from outside resumed them), so it must not touch what they change.

    While every runnable coroutine is parked on an ``Outside`` ticket, ``run`` waits for a
    delivery; after ``wait`` seconds with none it calls ``idle()`` (where a caller can poll a
    database, say) and waits again."""

    def __init__(
        self,
        max_batch: int = 8192,
        wait: float = 1.0,
        idle=None,
        lanes: int = 1,
        switch_interval: float = 1e-4,
    ):
        if lanes < 1:
            raise ValueError(f"an engine needs at least one lane, not {lanes}")
        self.max_batch, self.wait, self.idle = max_batch, wait, idle
        self.lanes, self.switch_interval = lanes, switch_interval
        self.stats = EngineStats()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._early: dict[Hashable, Any] = {}  # answers delivered before they were awaited

    def deliver(self, ticket: Hashable, answer: Any) -> None:
        """Hand ``answer`` to the coroutine parked on ``ticket`` (safe from any thread; an
        answer delivered before its ticket is awaited is kept until it is, so a ticket names
        one answer for the engine's lifetime)."""
        self._inbox.put((ticket, answer))

    def run(self, coros: Sequence[Coroutine]) -> list[Any]:
        """Run ``coros`` to completion and return their results in order."""
        with _collector_paused():
            if self.lanes == 1:
                return self._run(coros, None)
            interval = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval)
            try:
                with ThreadPoolExecutor(1, thread_name_prefix="engine-batch") as worker:
                    return self._run(coros, worker)
            finally:
                sys.setswitchinterval(interval)

    def _run(self, coros: Sequence[Coroutine], worker: ThreadPoolExecutor | None) -> list[Any]:
        out: list[Any] = [None] * len(coros)
        lanes: list[deque[tuple[_Frame, Any]]] = [deque() for _ in range(self.lanes)]
        for i, c in enumerate(coros):
            lanes[i % self.lanes].append((_Frame(c, None, i, i % self.lanes), None))
        parked: dict[Hashable, _Frame] = {}
        in_flight: deque[Launched] = deque()  # lanes' batches in the worker, in this order
        while any(lanes) or in_flight or parked:
            for ready in lanes:
                if not ready:
                    continue
                pending = self._step(ready, parked, out)
                if pending:
                    self.stats.rounds += 1
                    if worker is None:
                        self._resume(self._answer(pending), lanes)
                    else:
                        in_flight.append(self._launch(pending, worker))
                while in_flight and all(job[3].done() for job in in_flight[0][1]):
                    self._resume(self._land(in_flight.popleft()), lanes)
            if not any(lanes) and in_flight:
                self._resume(self._land(in_flight.popleft()), lanes)  # wait for the oldest
            if parked:
                self._collect(parked, lanes, block=not any(lanes) and not in_flight)
        return out

    def _step(
        self, ready: deque[tuple[_Frame, Any]], parked: dict[Hashable, _Frame], out: list[Any]
    ) -> Pending:
        """Step every coroutine of one lane until each is blocked; returns its pending calls."""
        pending: Pending = {}
        while ready:
            frame, value = ready.popleft()
            try:
                if type(value) is _Throw:
                    request = frame.coro.throw(value.error)
                else:
                    request = frame.coro.send(value)
            except StopIteration as stop:
                parent = frame.parent
                if parent is None:
                    out[frame.slot] = stop.value
                else:
                    parent.results[frame.slot] = stop.value
                    parent.waiting -= 1
                    if parent.waiting == 0:
                        ready.append((parent, parent.results))
                continue
            kind = type(request)
            if kind is Call:
                pending.setdefault(request.fn, []).append((frame, request.items))
            elif kind is Spawn:
                if not request.coros:
                    ready.append((frame, []))
                    continue
                frame.results = [None] * len(request.coros)
                frame.waiting = len(request.coros)
                ready.extend(
                    (_Frame(c, frame, i, frame.lane), None) for i, c in enumerate(request.coros)
                )
            elif kind is Outside:
                if request.ticket in self._early:
                    ready.append((frame, self._early.pop(request.ticket)))
                elif request.ticket in parked:
                    error = ValueError(f"ticket {request.ticket!r} awaited twice")
                    ready.append((frame, _Throw(error)))
                else:
                    parked[request.ticket] = frame
                    self.stats.parked += 1
            else:
                ready.append((frame, _Throw(TypeError(f"engine cannot await {request!r}"))))
        return pending

    @staticmethod
    def _resume(answers: Answers, lanes: list[deque[tuple[_Frame, Any]]]) -> None:
        for frame, answer in answers:
            lanes[frame.lane].append((frame, answer))

    def _collect(self, parked: dict[Hashable, _Frame], lanes: list[deque], block: bool) -> None:
        """Move delivered answers to their parked coroutines; with ``block``, wait for one."""
        while True:
            try:
                ticket, answer = self._inbox.get(block=block, timeout=self.wait)
            except queue.Empty:
                if not block:
                    return
                if self.idle is not None:
                    self.idle()
                continue
            frame = parked.pop(ticket, None)
            if frame is None:
                self._early[ticket] = answer
            else:
                lanes[frame.lane].append((frame, answer))
                block = False

    def _chunks(self, pending: Pending) -> Iterator[tuple[BatchFn, list[Any]]]:
        """Each function's pending items, in chunks of at most ``max_batch`` (counted)."""
        for fn, calls in pending.items():
            items = [item for _, batch in calls for item in batch]
            for start in range(0, len(items), self.max_batch):
                chunk = items[start : start + self.max_batch]
                self.stats.batches += 1
                self.stats.items += len(chunk)
                yield fn, chunk

    def _answer(self, pending: Pending) -> Answers:
        """Each pending call's answers: one batched call per function (split at
        ``max_batch``)."""
        results = {fn: [] for fn in pending}
        for fn, chunk in self._chunks(pending):
            results[fn].extend(_checked(fn(chunk), chunk))
        return _share(pending, results)

    def _launch(self, pending: Pending, worker: ThreadPoolExecutor) -> Launched:
        """Start one lane's batches in the worker: a ``Staged`` function's ``prepare`` here
        and only its ``compute`` there."""
        jobs = []
        for fn, chunk in self._chunks(pending):
            if isinstance(fn, Staged):
                inputs = fn.prepare(chunk)
                jobs.append((fn, chunk, inputs, worker.submit(fn.compute, inputs)))
            else:
                jobs.append((fn, chunk, None, worker.submit(fn, chunk)))
        return pending, jobs

    @staticmethod
    def _land(launched: Launched) -> Answers:
        """A launched lane's answers (waiting for its batches; ``finish`` runs here)."""
        pending, jobs = launched
        results = {fn: [] for fn in pending}
        for fn, chunk, inputs, future in jobs:
            out = future.result()
            if isinstance(fn, Staged):
                out = fn.finish(chunk, inputs, out)
            results[fn].extend(_checked(out, chunk))
        return _share(pending, results)


def _checked(answers: Sequence[Any], chunk: list[Any]) -> Sequence[Any]:
    if len(answers) != len(chunk):
        raise RuntimeError(f"batch function returned {len(answers)} results for {len(chunk)} items")
    return answers


def _share(pending: Pending, results: dict[BatchFn, list[Any]]) -> Answers:
    """Cut each function's results into the answers of the calls that awaited it."""
    answered: Answers = []
    for fn, calls in pending.items():
        pos = 0
        for frame, batch in calls:
            answered.append((frame, results[fn][pos : pos + len(batch)]))
            pos += len(batch)
    return answered
