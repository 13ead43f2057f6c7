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
from collections import deque
from collections.abc import Callable, Coroutine, Hashable, Iterator, Sequence
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
    __slots__ = ("coro", "parent", "slot", "results", "waiting")

    def __init__(self, coro: Coroutine, parent: _Frame | None, slot: int):
        self.coro, self.parent, self.slot = coro, parent, slot
        self.results: list[Any] = []
        self.waiting = 0


class Engine:
    """Drives coroutines to completion, batching their ``Call``s up to ``max_batch`` items.

    While every runnable coroutine is parked on an ``Outside`` ticket, ``run`` waits for a
    delivery; after ``wait`` seconds with none it calls ``idle()`` (where a caller can poll a
    database, say) and waits again."""

    def __init__(self, max_batch: int = 8192, wait: float = 1.0, idle=None):
        self.max_batch, self.wait, self.idle = max_batch, wait, idle
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
            return self._run(coros)

    def _run(self, coros: Sequence[Coroutine]) -> list[Any]:
        out: list[Any] = [None] * len(coros)
        ready: deque[tuple[_Frame, Any]] = deque(
            (_Frame(c, None, i), None) for i, c in enumerate(coros)
        )
        pending: dict[BatchFn, list[tuple[_Frame, list[Any]]]] = {}
        parked: dict[Hashable, _Frame] = {}
        while ready or pending or parked:
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
                    ready.extend((_Frame(c, frame, i), None) for i, c in enumerate(request.coros))
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
            if pending:
                self.stats.rounds += 1
                for fn, calls in pending.items():
                    self._answer(fn, calls, ready)
                pending = {}
            if parked:
                self._collect(parked, ready, block=not ready)
        return out

    def _collect(self, parked: dict[Hashable, _Frame], ready: deque, block: bool) -> None:
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
                ready.append((frame, answer))
                block = False

    def _answer(self, fn: BatchFn, calls: list[tuple[_Frame, list[Any]]], ready: deque) -> None:
        items = [item for _, batch in calls for item in batch]
        results: list[Any] = []
        for start in range(0, len(items), self.max_batch):
            chunk = items[start : start + self.max_batch]
            answers = fn(chunk)
            if len(answers) != len(chunk):
                raise RuntimeError(
                    f"batch function returned {len(answers)} results for {len(chunk)} items"
                )
            results.extend(answers)
            self.stats.batches += 1
            self.stats.items += len(chunk)
        pos = 0
        for frame, batch in calls:
            ready.append((frame, results[pos : pos + len(batch)]))
            pos += len(batch)
