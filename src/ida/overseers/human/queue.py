"""The queue of H's steps: post, claim with a lease and a fencing token, heartbeat, submit.

A step is H's next move on a question in a context (the facts, the question, the answered
subquestions so far); its ``key`` is a hash of the context, so posting a step that was asked
before (in this run or any other on the same task) asks nobody: its recorded move is the
answer (H's steps are a memo). Each step has ``overlap`` assignments, one per person who must
answer it; people claim assignments, highest priority first.

* ``claim`` takes the person's held assignment if they have one (a second tab sees the same
  task), else the best queued one, leased for ``lease`` seconds, with its fencing token bumped.
  On PostgreSQL the candidate is picked by ``FOR UPDATE SKIP LOCKED`` inside the claim's
  subquery: without the row lock the outer UPDATE re-checks only the id after a wait and
  re-takes rows another claim has taken; the person's row lock serialises one person's claims.
  On SQLite ``BEGIN IMMEDIATE`` serialises writers.
* ``heartbeat`` extends a lease; ``submit`` is fenced: only the holder, with the token of the
  current claim, before the lease is reaped. A submission and all it causes are one
  transaction: the answer, the step resolved once every replica is in (the most common move),
  the subquestions its move asks, and, where the step's chain answers a subquestion of another
  step, that answer, and the other step's next step made ready once all its subquestions are.
  ``answers.assignment_id`` is unique, so the database refuses a second accepted answer.
* Expired leases return to the queue (every claim reaps them first).

Claims, heartbeats, submissions and posts run on the driver's own SQL (``statements``), as
plans that ``db.run_plan`` runs in a transaction. A plan yields batches of statements; on
PostgreSQL each batch is one round trip (pipeline mode), so a claim is one round trip and a
submission two. For the web server's event loop, ``aclaim``, ``aheartbeat`` and ``asubmit`` run
the same plans on PostgreSQL on asynchronous connections of the queue's own
(``db.AsyncPostgres``), on SQLite in groups that commit together (``db.SqliteGroups``). The
reads and the tree viewer's records are ``records.Records``, the queue's base.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ida.core.errors import IdaError
from ida.overseers.human.db import AsyncPostgres, Batch, Plan, SqliteGroups, run_plan
from ida.overseers.human.protocol import Held, Move, Post, QueueError, is_answer, step_key
from ida.overseers.human.records import Records
from ida.overseers.human.schema import DONE, OPEN, QUEUED
from ida.overseers.human.statements import (
    ANSWER,
    ANSWER_ORIGIN,
    ANSWER_SUBQUESTION,
    ASK,
    HEARTBEAT,
    HELD_ROW,
    LOCK_AND_REAP,
    LOCK_FAN_IN,
    LOCK_STEP,
    POST_ASSIGNMENT,
    POST_STEP,
    REAP,
    REFUSAL,
    RESOLVE,
    RUN_OF,
    RUN_OF_STEP,
    RUNS,
    STEP_BY_KEY,
    STEP_MOVES,
    SUBQUESTIONS,
    TAKE,
    claim_and_view_pg,
    claim_sql,
    submit_alone_pg,
    take_and_answer_pg,
)

REFUSED = object()  # a submission's plan found no held assignment to take


class StepQueue(Records):
    """The queue on ``engine``. ``lock`` and ``fence`` are on except in the fault harness's
    negative controls, which turn one off to show that the harness catches what it guards.
    ``connections``: how many PostgreSQL connections the ``a...`` methods use at most."""

    def __init__(
        self,
        engine: Engine,
        lease: float = 120.0,
        lock: bool = True,
        fence: bool = True,
        max_hold: float = 3600.0,
        connections: int = 32,
    ):
        self.engine, self.lease, self.lock, self.fence = engine, lease, lock, fence
        self.max_hold = max_hold  # heartbeats keep a task no longer (a tab left open)
        self.dialect = engine.dialect.name
        self.pg = self.dialect == "postgresql"
        # the a... methods, for an event loop: on PostgreSQL on connections of their own, on
        # SQLite in groups committed together
        self._aio = AsyncPostgres(engine.url, connections) if self.pg else SqliteGroups(engine)
        # assignments claimed here whose step has one replica and no origin: their submission
        # is one statement on PostgreSQL (facts that never change once a step is posted)
        self._alone: dict[int, bool] = {}

    def share_lock(self, lock) -> None:
        """Hold ``lock`` (a ``threading.Lock``) around the ``a...`` methods' SQLite
        transactions: the lock a server's threads hold while they write."""
        if not self.pg:
            self._aio.lock = lock

    # the driver's JSON: psycopg encodes and decodes it itself, sqlite3 stores text

    def _json(self, value: Any) -> Any:
        if self.pg:
            from psycopg.types.json import Json

            return Json(value)
        return json.dumps(value)

    def _load(self, value: Any) -> Any:
        return value if self.pg or value is None else json.loads(value)

    # runs

    def run_id(self, name: str, task: str, size: int, overlap: int = 1, directory=None) -> int:
        """The id of run ``name``, made if new (a known run must be of the same task)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(RUNS).where(RUNS.c.name == name)).first()
            if row is None:
                return conn.execute(
                    insert(RUNS).values(
                        name=name, task=task, size=size, overlap=overlap,
                        directory=directory, created=time.time(),
                    ).returning(RUNS.c.id)
                ).scalar_one()  # fmt: skip
        if (row.task, row.size) != (task, size):
            raise IdaError(
                f"run {name!r} in this database is {row.task} at size {row.size}, "
                f"not {task} at size {size}"
            )
        return row.id

    # the asking side

    def post(self, run: int, posts: Sequence[Post]) -> list[str]:
        """Ask ``posts`` (one transaction); a step already asked is not asked again. Returns
        the steps' keys."""
        if not posts:
            return []
        return run_plan(self.engine, self._post_run(run, posts))

    def _post_run(self, run: int, posts: Sequence[Post]) -> Plan:
        rows = (yield Batch([(RUN_OF, (run,))]))[0]
        if not rows:
            raise QueueError(f"no run {run}", 404)
        task, size, overlap = rows[0]
        return (yield from self._post(run, task, size, overlap, posts))

    def _post(self, run: int, task: str, size: int, overlap: int, posts: Sequence[Post]) -> Plan:
        """Insert the steps of ``posts`` that are new (a step of the same context, asked
        before or at the same moment, inserts nothing: ``ON CONFLICT DO NOTHING``), then their
        ``overlap`` assignments each. Returns the keys."""
        now = time.time()
        keys = [step_key(task, size, p.context) for p in posts]
        made = yield Batch(
            (POST_STEP, (
                run, key, p.level, self._json(p.context), p.suggestion, p.suspicion, p.origin,
                p.suspicion or 0.0, OPEN, now,
            ))
            for key, p in zip(keys, posts, strict=True)
        )  # fmt: skip
        queued = [
            (POST_ASSIGNMENT, (rows[0][0], replica, p.suspicion or 0.0, QUEUED))
            for rows, p in zip(made, posts, strict=True)
            if rows
            for replica in range(overlap)
        ]
        if queued:
            yield Batch(queued)
        return keys

    def answer_subquestions(self, key: str, answers: Sequence[tuple[int, str]]) -> None:
        """Give the answers (answer, by) to the subquestions step ``key``'s move asked, where
        they have none yet, and make the step's next step ready once all have one."""
        run_plan(self.engine, self._answer_subquestions(key, answers))

    def _answer_subquestions(self, key: str, answers: Sequence[tuple[int, str]]) -> Plan:
        rows = (yield Batch([(STEP_BY_KEY, (key,))]))[0]
        if not rows:
            raise QueueError(f"no step {key}", 404)
        step = rows[0][0]
        if answers:
            yield Batch(
                (ANSWER_SUBQUESTION, (int(answer), by, step, position))
                for position, (answer, by) in enumerate(answers)
            )
        yield from self._fan_in_if_ready(step)

    # the answering side: each a plan, run here (``run_plan``) or in an event loop (``a...``)

    def claim(self, person: int, runs: Sequence[int] | None = None) -> Held | None:
        """The person's held assignment, or the best queued one newly leased; None: nothing to
        do. ``runs`` limits the claim to those runs' steps."""
        return run_plan(self.engine, self._claim(person, runs))

    def heartbeat(self, person: int, assignment: int, fence: int) -> float:
        """Extend the lease of a held assignment; returns the new end of the lease."""
        return run_plan(self.engine, self._heartbeat(person, assignment, fence))

    def submit(self, person: int, assignment: int, fence: int, move: Move) -> bool:
        """Accept ``move`` (already checked against the task) for a held assignment, with all
        it causes, in one transaction. Returns True, or False for a repeat of the submission
        already accepted (a retry after a lost response), which changes nothing."""
        try:
            done = run_plan(self.engine, self._submit(person, assignment, fence, move))
        except IntegrityError:
            raise QueueError("this task already has an accepted answer") from None
        if done is REFUSED:
            return run_plan(self.engine, self._refused(person, assignment, fence, move))
        return done

    async def aclaim(self, person: int, runs: Sequence[int] | None = None) -> Held | None:
        """``claim`` from the running event loop."""
        return await self._aio.run(self._claim(person, runs))

    async def aheartbeat(self, person: int, assignment: int, fence: int) -> float:
        """``heartbeat`` from the running event loop."""
        return await self._aio.run(self._heartbeat(person, assignment, fence))

    async def asubmit(self, person: int, assignment: int, fence: int, move: Move) -> bool:
        """``submit`` from the running event loop."""
        try:
            done = await self._aio.run(self._submit(person, assignment, fence, move))
        except IntegrityError:
            raise QueueError("this task already has an accepted answer") from None
        if done is REFUSED:
            return await self._aio.run(self._refused(person, assignment, fence, move))
        return done

    async def aclose(self) -> None:
        """Close the connections the ``a...`` methods opened (PostgreSQL)."""
        if self.pg:
            await self._aio.close()

    def _claim(self, person: int, runs: Sequence[int] | None) -> Plan:
        """Reap expired leases, claim unless the person holds a task, read what they hold: one
        batch. On PostgreSQL the person's row is locked first, and each statement after the
        lock sees what a claim of theirs that went first committed."""
        now = time.time()
        params = (person, now + self.lease, now, person, person)
        count = None if runs is None else len(runs)
        if runs is not None:
            params += tuple(runs)
        if self.pg:
            claim = claim_and_view_pg(self.lock, count)
            batch = Batch([(LOCK_AND_REAP, (now, person)), (claim, (*params, person))], last=True)
        else:
            claim = claim_sql(self.dialect, self.lock, count)
            batch = Batch([(REAP, (now,)), (claim, params), (HELD_ROW, (person,))], last=True)
        rows = (yield batch)[-1]
        if not rows:
            return None
        row = rows[0]
        if self.pg:
            if len(self._alone) > 100_000:
                self._alone.clear()
            self._alone[row[0]] = row[12] is None and row[13] == 1  # no origin, one replica
        return Held(*row[:9], self._load(row[9]), *row[10:12])

    def _heartbeat(self, person: int, assignment: int, fence: int) -> Plan:
        """Extend the lease; the reasons for a refusal are read in the same batch."""
        now = time.time()
        until = now + self.lease
        held = (until, assignment, person, fence, now - self.max_hold)
        done, state, answer = yield Batch(
            [(HEARTBEAT, held), *((sql, (assignment,)) for sql in REFUSAL)], last=True
        )
        if not done:
            self._refusal(assignment, state, answer, person, fence, None)
        return until

    def _submit(self, person: int, assignment: int, fence: int, move: Move) -> Plan:
        """Take the assignment (fenced), record the answer, lock the step and read its answers
        so far (PostgreSQL: one batch), then resolve the step if all its replicas are in.
        Returns ``REFUSED`` where the take found no held assignment (nothing changed): the
        caller asks why in a transaction of its own (``_refused``)."""
        now = time.time()
        take = (assignment, person, fence) if self.fence else (assignment,)
        if self.pg:
            answer = (assignment, person, fence, self._json(move), now, now, now)
            if self._alone.get(assignment):  # one statement does it all
                asked = None if is_answer(move) else self._json(move["ask"])
                params = (*take, *answer, self._json(move), now, asked)
                (taken,) = yield Batch([(submit_alone_pg(self.fence), params)], last=True)
                return True if taken else REFUSED
            taken, step_rows, moves = yield Batch([
                (take_and_answer_pg(self.fence), take + answer),
                (LOCK_STEP["postgresql"], (assignment,)),
                (STEP_MOVES["postgresql"], (assignment,)),
            ])  # fmt: skip
            if not taken:
                return REFUSED
            moves = [m for (m,) in moves]
        else:
            taken = (yield Batch([(TAKE[self.fence] + " RETURNING step_id, claimed_at", take)]))[0]
            if not taken:
                return REFUSED
            step, claimed = taken[0]
            seconds = now - (claimed or now)
            answer = (assignment, step, person, fence, self._json(move), now, seconds)
            _, step_rows = yield Batch([(ANSWER, answer), (LOCK_STEP["sqlite"], (step,))])
            moves = [move]
        step, _, origin, overlap = step_rows[0]
        if overlap > 1 and not self.pg:
            moves = [json.loads(m) for (m,) in (yield Batch([(STEP_MOVES["sqlite"], (step,))]))[0]]
        if len(moves) >= overlap:
            yield from self._resolve(step, origin, moves, now)
        return True

    def _refused(self, person: int, assignment: int, fence: int, move: Move) -> Plan:
        state, answer = yield Batch(((sql, (assignment,)) for sql in REFUSAL), last=True)
        return self._refusal(assignment, state, answer, person, fence, move)

    def _refusal(
        self, assignment: int, state: list, answer: list, person: int, fence: int, move: Move | None
    ) -> bool:
        """Why a heartbeat or submission does not apply (``state``: the assignment's row,
        ``answer``: its answer's): a repeat of the accepted submission is harmless (False);
        anything else is a ``QueueError``."""
        if not state:
            raise QueueError(f"no task {assignment}", 404)
        status, holder, held_fence = state[0]
        if status == DONE:
            if move is not None and answer:
                by, answered_fence, answered = answer[0]
                if (by, answered_fence, self._load(answered)) == (person, fence, move):
                    return False
            raise QueueError("this task was already submitted")
        if holder != person:
            raise QueueError(
                "you do not hold this task (its lease ran out or it is someone else's)"
            )
        if move is None and held_fence == fence:
            raise QueueError("this task has been held too long: submit it or leave it")
        raise QueueError("stale claim: this task was claimed again since (reload to get it)")

    # what a submission causes

    def _resolve(self, step: int, origin: int | None, moves: list[Move], now: float) -> Plan:
        """Resolve ``step``, all its replicas answered (``moves``, first first), to the most
        common move (the first of those as common), with what the move causes in the same
        batch: the subquestions it asks, or the answer it gives to the subquestion its chain
        answers (then that step's fan-in, once all its subquestions are answered)."""
        counts = Counter(json.dumps(m, sort_keys=True) for m in moves)
        best = max(counts.values())
        move = next(m for m in moves if counts[json.dumps(m, sort_keys=True)] == best)
        batch = Batch([(RESOLVE, (self._json(move), now, step))])
        if not is_answer(move):
            batch += [(ASK, (i, self._json(q), step, now)) for i, q in enumerate(move["ask"])]
        elif origin is not None:
            batch.append((ANSWER_ORIGIN, (int(move["answer"]), origin, step, now)))
        batch.last = not (is_answer(move) and origin is not None)
        results = yield batch
        if not batch.last and results[1]:  # a subquestion got its answer
            yield from self._fan_in_if_ready(results[1][0][0])

    def _fan_in_if_ready(self, step: int) -> Plan:
        """Post step ``step``'s next step (its fan-in) once all its subquestions have answers.
        The step's row lock comes first: concurrent answers to its subquestions look in turn."""
        (row, *_), subs, ((task, size, overlap),) = yield Batch([
            (LOCK_FAN_IN[self.dialect], (step,)),
            (SUBQUESTIONS, (step,)),
            (RUN_OF_STEP, (step,)),
        ])  # fmt: skip
        if not subs or any(answer is None for _, answer in subs):
            return
        run, level, context, suggestion, suspicion, origin = row
        answered = [[self._load(q), a] for q, a in subs]
        context = dict(self._load(context), answered=answered)
        post = Post(context, level, suggestion, suspicion, origin)
        yield from self._post(run, task, size, overlap, [post])
