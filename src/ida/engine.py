"""Runs thousands of coroutines at once and answers their model calls in shared batches.

Amplification code is ordinary sequential ``async`` code. Where it needs a model it awaits a
``Call``; where it needs other coroutines run to completion (recursion, subtrees) it awaits a
``Spawn``. The engine steps every coroutine until each is blocked, then answers all pending
``Call``s to the same function with one batched call, and repeats. Nothing here knows about
questions or overseers, so search-based amplification plugs in the same way.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
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


@dataclass
class EngineStats:
    """Counters over an engine's lifetime: batched calls made and items they answered."""

    batches: int = 0
    items: int = 0
    rounds: int = 0

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
    """Drives coroutines to completion, batching their ``Call``s up to ``max_batch`` items."""

    def __init__(self, max_batch: int = 8192):
        self.max_batch = max_batch
        self.stats = EngineStats()

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
        while ready or pending:
            while ready:
                frame, value = ready.popleft()
                try:
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
                else:
                    frame.coro.throw(TypeError(f"engine cannot await {request!r}"))
            if pending:
                self.stats.rounds += 1
                for fn, calls in pending.items():
                    self._answer(fn, calls, ready)
                pending = {}
        return out

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
