"""The trainer's end of the workbench queue, for any domain whose H people can be.

``Desk`` posts a run's steps (``Post``s whose context is whatever the domain shows people),
parks each waiting coroutine on an engine ``Outside`` ticket and, as the engine's ``idle``,
polls the database for the moves people made and delivers them, so one tree waits on a person
while every other tree goes on. A step already answered, in this run before a restart or in
any run on the same database, is answered from the record (the steps are a memo), so a
restarted trainer replays what people did and asks nothing twice.

``DeskSettings`` are the config fields of a run with people as H. The database is opened on
first use, so loading a run to evaluate or show it needs none.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ida.core.engine import Engine, Outside
from ida.core.errors import IdaError


class DeskSettings(BaseModel):
    """A run's fields for people as H at the workbench (``overseer = "human"``)."""

    db: str = Field(
        "sqlite:///workbench.db", description="overseer 'human': the workbench's database URL"
    )
    db_run: str | None = Field(
        None, description="overseer 'human': the run's name in the workbench (default: its folder)"
    )
    overlap: int = Field(1, ge=1, description="overseer 'human': people who answer each step")
    poll: float = Field(
        0.05, gt=0, description="overseer 'human': seconds between looks for people's answers"
    )


class Desk:
    """The trainer's end of the workbench queue for run ``name`` of ``task`` at ``size`` on
    the database at ``url``."""

    def __init__(self, task: str, size: int, url: str, name: str, overlap: int = 1):
        self.task_name, self.size = task, size
        self.url, self.name, self.overlap = url, name, overlap
        self.engine: Engine | None = None
        self._queue = None
        self._run: int | None = None
        self.waiting: dict[str, list[int]] = {}  # step key -> tickets parked on it
        self._tickets = itertools.count()
        self.patience, self.warned = 600.0, False

    def open(self) -> None:
        """Open the database and register the run (or find it, resumed)."""
        self.queue  # noqa: B018

    @property
    def queue(self):
        """The queue, opened (and the run registered) on first use."""
        if self._queue is None:
            try:
                from ida.overseers.human.db import open_database
                from ida.overseers.human.queue import StepQueue
            except ImportError:
                raise IdaError(
                    '--overseer human needs the web extra: pip install "ida[web]"'
                ) from None
            self._queue = StepQueue(open_database(self.url))
            folder = Path(self.name)  # a run named by its folder: the tree viewer shows its model
            self._run = self._queue.run_id(
                self.name, self.task_name, self.size, self.overlap,
                str(folder.resolve()) if folder.is_dir() else None,
            )  # fmt: skip
        return self._queue

    @property
    def run(self) -> int:
        """The run's id in the database."""
        self.open()
        return self._run

    def attach(self, engine: Engine, poll: float) -> None:
        """Have ``engine`` poll this desk for answers every ``poll`` seconds while it waits."""
        self.engine = engine
        engine.wait, engine.idle = poll, self.poll

    def retried(self, call: Callable[[], Any]) -> Any:
        """``call()``, retried while the database cannot be reached (a restart, say), for up to
        ``patience`` seconds."""
        from sqlalchemy.exc import DBAPIError

        started = time.monotonic()
        while True:
            try:
                return call()
            except DBAPIError as err:
                text = str(err).lower()
                if (
                    not err.connection_invalidated
                    and "connect" not in text
                    and "locked" not in text
                ):
                    raise
                if time.monotonic() - started > self.patience:
                    raise IdaError(
                        f"the workbench database has been unreachable for "
                        f"{self.patience:.0f} s: {str(err.orig).strip()}"
                    ) from None
                if not self.warned:
                    print("the workbench database is unreachable; retrying", file=sys.stderr)
                    self.warned = True
                time.sleep(1.0)

    def post(self, posts: Sequence) -> list[str]:
        """Ask ``posts`` (``protocol.Post``s); returns their keys."""
        return self.retried(lambda: self.queue.post(self.run, posts))

    def people(self) -> int:
        """Answers people have given in this run."""
        return self.retried(lambda: self.queue.answered_count(self.run))

    async def wait(self, key: str) -> tuple[dict, str | None]:
        """The move people made on step ``key`` and who made it, once they have."""
        if self.engine is None:
            raise RuntimeError("Desk.attach(engine) first")
        ticket = next(self._tickets)
        self.waiting.setdefault(key, []).append(ticket)
        return await Outside(ticket)

    def poll(self) -> None:
        """Deliver every move made on a step some coroutine waits for."""
        if not self.waiting:
            return
        keys = list(self.waiting)
        for key, found in self.retried(lambda: self.queue.moves(keys)).items():
            for ticket in self.waiting.pop(key):
                self.engine.deliver(ticket, found)

    def answer_subquestions(self, key: str, answers: Sequence[tuple[int, str]]) -> None:
        self.retried(lambda: self.queue.answer_subquestions(key, answers))

    def record_trees(
        self, round_: int, trees: Iterable[tuple[Any, Any]], row_of: Callable[[int, Any], dict]
    ) -> None:
        """Write round ``round_``'s finished trees for the tree viewer. ``trees``: (facts, root
        node) pairs, a node having ``walk()`` (parents first) and ``children``; ``row_of(i,
        node)``: the node of the ``i``-th tree as the viewer keeps it (its ``question``,
        ``answer``, ``truth``, ``by`` and ``person``)."""
        written = []
        for i, (facts, tree) in enumerate(trees):
            rows: list[dict] = []
            parent_of: dict[int, int] = {}
            for node in tree.walk():
                parent_of.update((id(child), len(rows)) for child in node.children)
                rows.append({"parent": parent_of.get(id(node)), **row_of(i, node)})
            rows[0]["facts"] = facts
            written.append(rows)
        self.retried(lambda: self.queue.record_trees(self.run, round_, written))
