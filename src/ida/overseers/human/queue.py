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
  re-takes rows another claim has taken. On SQLite ``BEGIN IMMEDIATE`` serialises writers.
* ``heartbeat`` extends a lease; ``submit`` is fenced: only the holder, with the token of the
  current claim, before the lease is reaped. A submission and all it causes are one
  transaction: the answer, the step resolved once every replica is in (the most common move),
  the subquestions its move asks, and, where the step's chain answers a subquestion of another
  step, that answer, and the other step's next step made ready once all its subquestions are.
  ``answers.assignment_id`` is unique, so the database refuses a second accepted answer.
* Expired leases return to the queue (every claim reaps them first).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ida.core.errors import IdaError
from ida.overseers.human.db import reading
from ida.overseers.human.protocol import Held, Move, Post, QueueError, is_answer, step_key
from ida.overseers.human.schema import DONE, HELD, OPEN, QUEUED
from ida.overseers.human.statements import (
    ANSWER,
    ANSWERS,
    HELD_VIEW,
    LOCK_PERSON,
    LOCK_STEP,
    MINE,
    NODES,
    PEOPLE,
    REAP,
    RESOLVE,
    RUNS,
    SQ,
    STEP_MOVES,
    TAKE,
    TAKE_UNFENCED,
    A,
    S,
    claim_statement,
)


class StepQueue:
    """The queue on ``engine``. ``lock`` and ``fence`` are on except in the fault harness's
    negative controls, which turn one off to show that the harness catches what it guards."""

    def __init__(
        self,
        engine: Engine,
        lease: float = 120.0,
        lock: bool = True,
        fence: bool = True,
        max_hold: float = 3600.0,
    ):
        self.engine, self.lease, self.lock, self.fence = engine, lease, lock, fence
        self.max_hold = max_hold  # heartbeats keep a task no longer (a tab left open)
        self._overlaps: dict[int, int] = {}  # run -> its overlap

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
        with self.engine.begin() as conn:
            name, task, size, overlap = conn.execute(
                select(RUNS.c.name, RUNS.c.task, RUNS.c.size, RUNS.c.overlap).where(
                    RUNS.c.id == run
                )
            ).one()
            return [self._post(conn, run, task, size, overlap, p) for p in posts]

    def _post(self, conn, run, task, size, overlap, post: Post) -> str:
        key = step_key(task, size, post.context)
        if conn.execute(select(S.c.id).where(S.c.key == key)).first() is not None:
            return key
        priority = post.suspicion or 0.0
        dialect = {"postgresql": postgresql, "sqlite": sqlite}[conn.dialect.name]
        step = conn.execute(  # a post of the same context at the same moment inserts nothing
            dialect.insert(S).values(
                run_id=run, key=key, level=post.level, context=post.context,
                suggestion=post.suggestion, suspicion=post.suspicion,
                origin_id=post.origin, priority=priority, state=OPEN, created=time.time(),
            ).on_conflict_do_nothing(index_elements=["key"]).returning(S.c.id)
        ).scalar()  # fmt: skip
        if step is None:
            return key
        conn.execute(
            insert(A),
            [
                dict(step_id=step, replica=r, priority=priority, state=QUEUED, fence=0)
                for r in range(overlap)
            ],
        )
        return key

    def moves(self, keys: Iterable[str]) -> dict[str, tuple[Move, str | None]]:
        """The recorded move of each answered step among ``keys``, with who answered it (the
        person of its first replica)."""
        keys = list(keys)
        found: dict[str, tuple[Move, str | None]] = {}
        with reading(self.engine) as conn:
            for start in range(0, len(keys), 500):
                rows = conn.execute(
                    select(S.c.key, S.c.move, PEOPLE.c.name)
                    .select_from(
                        S.outerjoin(
                            ANSWERS.join(
                                A, and_(A.c.id == ANSWERS.c.assignment_id, A.c.replica == 0)
                            ),
                            ANSWERS.c.step_id == S.c.id,
                        ).outerjoin(PEOPLE, PEOPLE.c.id == ANSWERS.c.person_id)
                    )
                    .where(S.c.key.in_(keys[start : start + 500]), S.c.state == DONE)
                )
                found.update((key, (move, who)) for key, move, who in rows)
        return found

    def answer_subquestions(self, key: str, answers: Sequence[tuple[int, str]]) -> None:
        """Give the answers (answer, by) to the subquestions step ``key``'s move asked, where
        they have none yet, and make the step's next step ready once all have one."""
        with self.engine.begin() as conn:
            step = conn.execute(select(S.c.id).where(S.c.key == key)).scalar()
            if step is None:
                raise QueueError(f"no step {key}", 404)
            for position, (answer, by) in enumerate(answers):
                conn.execute(
                    update(SQ)
                    .where(SQ.c.step_id == step, SQ.c.position == position, SQ.c.answer.is_(None))
                    .values(answer=int(answer), by=by)
                )
            self._fan_in_if_ready(conn, step)

    # the answering side

    def claim(self, person: int, runs: Sequence[int] | None = None) -> Held | None:
        """The person's held assignment, or the best queued one newly leased; None: nothing to
        do. ``runs`` limits the claim to those runs' steps."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(LOCK_PERSON, {"person": person})  # one claim per person at a time
            conn.execute(REAP, {"now": now})  # expired leases back to the queue
            held = conn.execute(MINE, {"person": person}).scalar()
            if held is None:
                values = {"person": person, "until": now + self.lease, "now": now}
                if runs is not None:
                    values["runs"] = list(runs)
                held = conn.execute(claim_statement(self.lock, runs is not None), values).scalar()
                if held is None:
                    return None
            return Held(*conn.execute(HELD_VIEW, {"assignment": held}).one())

    def heartbeat(self, person: int, assignment: int, fence: int) -> float:
        """Extend the lease of a held assignment; returns the new end of the lease."""
        now = time.time()
        until = now + self.lease
        with self.engine.begin() as conn:
            done = conn.execute(
                update(A)
                .where(
                    A.c.id == assignment, A.c.holder_id == person, A.c.fence == fence,
                    A.c.state == HELD, A.c.claimed_at > now - self.max_hold,
                ).values(lease_until=until)
            ).rowcount  # fmt: skip
            if not done:
                self._refusal(conn, person, assignment, fence, None)
        return until

    def submit(self, person: int, assignment: int, fence: int, move: Move) -> bool:
        """Accept ``move`` (already checked against the task) for a held assignment, with all
        it causes, in one transaction. Returns True, or False for a repeat of the submission
        already accepted (a retry after a lost response), which changes nothing."""
        now = time.time()
        try:
            with self.engine.begin() as conn:
                values = {"assignment": assignment, "person": person, "token": fence}
                row = conn.execute(TAKE if self.fence else TAKE_UNFENCED, values).first()
                if row is None:
                    return self._refusal(conn, person, assignment, fence, move)
                step, claimed = row
                conn.execute(
                    ANSWER,
                    dict(
                        assignment_id=assignment, step_id=step, person_id=person, fence=fence,
                        move=move, created=now, seconds=now - (claimed or now),
                    ),
                )  # fmt: skip
                self._resolve_if_complete(conn, step, move, now)
        except IntegrityError:
            raise QueueError("this task already has an accepted answer") from None
        return True

    def _refusal(self, conn, person: int, assignment: int, fence: int, move: Move | None):
        """Why a heartbeat or submission does not apply: a repeat of the accepted submission
        is harmless (False); anything else is a ``QueueError``."""
        row = conn.execute(
            select(A.c.state, A.c.holder_id, A.c.fence).where(A.c.id == assignment)
        ).first()
        if row is None:
            raise QueueError(f"no task {assignment}", 404)
        if row.state == DONE:
            mine = conn.execute(
                select(ANSWERS.c.person_id, ANSWERS.c.fence, ANSWERS.c.move).where(
                    ANSWERS.c.assignment_id == assignment
                )
            ).first()
            if move is not None and mine is not None and tuple(mine) == (person, fence, move):
                return False
            raise QueueError("this task was already submitted")
        if row.holder_id != person:
            raise QueueError(
                "you do not hold this task (its lease ran out or it is someone else's)"
            )
        if move is None and row.fence == fence:
            raise QueueError("this task has been held too long: submit it or leave it")
        raise QueueError("stale claim: this task was claimed again since (reload to get it)")

    # what a submission causes

    def _resolve_if_complete(self, conn: Connection, step: int, move: Move, now: float) -> None:
        """Resolve ``step`` once all its replicas are answered (``move``: the one just given)."""
        # the row lock: concurrent replicas' submissions count the answers in turn
        run, origin = conn.execute(LOCK_STEP, {"step": step}).one()
        overlap = self._overlap(conn, run)
        moves = [move]
        if overlap > 1:
            moves = [m for (m,) in conn.execute(STEP_MOVES, {"step": step})]
            if len(moves) < overlap:
                return
        counts = Counter(json.dumps(m, sort_keys=True) for m in moves)
        best = max(counts.values())
        move = next(m for m in moves if counts[json.dumps(m, sort_keys=True)] == best)
        if not conn.execute(RESOLVE, {"step": step, "resolved": move, "now": now}).rowcount:
            return
        if is_answer(move):
            if origin is not None:  # this chain answers another step's subquestion
                parent = conn.execute(
                    update(SQ).where(SQ.c.id == origin, SQ.c.answer.is_(None))
                    .values(answer=int(move["answer"]), by="person").returning(SQ.c.step_id)
                ).scalar()  # fmt: skip
                if parent is not None:
                    self._fan_in_if_ready(conn, parent)
            return
        conn.execute(
            insert(SQ),
            [dict(step_id=step, position=i, question=q) for i, q in enumerate(move["ask"])],
        )

    def _overlap(self, conn: Connection, run: int) -> int:
        """How many people answer each step of ``run`` (fixed when the run is made)."""
        if run not in self._overlaps:
            self._overlaps[run] = conn.execute(
                select(RUNS.c.overlap).where(RUNS.c.id == run)
            ).scalar_one()
        return self._overlaps[run]

    def _fan_in_if_ready(self, conn: Connection, step: int) -> None:
        """Post step ``step``'s next step (its fan-in) once all its subquestions have answers."""
        conn.execute(
            LOCK_STEP, {"step": step}
        )  # concurrent answers to its subquestions look in turn
        subs = conn.execute(
            select(SQ.c.question, SQ.c.answer).where(SQ.c.step_id == step).order_by(SQ.c.position)
        ).all()
        if not subs or any(answer is None for _, answer in subs):
            return
        row = conn.execute(
            select(
                S.c.run_id, S.c.level, S.c.context, S.c.suggestion, S.c.suspicion, S.c.origin_id
            ).where(S.c.id == step)
        ).one()
        run = conn.execute(
            select(RUNS.c.task, RUNS.c.size, RUNS.c.overlap).where(RUNS.c.id == row.run_id)
        ).one()
        context = dict(row.context, answered=[[q, a] for q, a in subs])
        post = Post(context, row.level, row.suggestion, row.suspicion, row.origin_id)
        self._post(conn, row.run_id, run.task, run.size, run.overlap, post)

    def record_trees(self, run: int, round_: int, trees: Sequence[Sequence[dict]]) -> None:
        """Write a round's finished trees for the tree viewer, in one transaction, in place of
        any the round had (a resumed run replays rounds). Each tree is its nodes
        parents first, as dicts: ``parent`` (index in the list, None at the root), ``question``,
        ``answer``, ``truth``, ``by``, ``person`` (a name or None) and, at the root, ``facts``."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(delete(NODES).where(NODES.c.run_id == run, NODES.c.round == round_))
            names = {n for tree in trees for n in (node.get("person") for node in tree) if n}
            query = select(PEOPLE.c.name, PEOPLE.c.id).where(PEOPLE.c.name.in_(names))
            ids = {name: id_ for name, id_ in conn.execute(query)} if names else {}
            for tree in trees:
                made: list[int] = []
                for node in tree:
                    parent = None if node["parent"] is None else made[node["parent"]]
                    made.append(
                        conn.execute(
                            insert(NODES).values(
                                run_id=run, tree=made[0] if made else 0, parent_id=parent,
                                round=round_, facts=node.get("facts"), question=node["question"],
                                answer=node["answer"], truth=node.get("truth"), by=node["by"],
                                person_id=ids.get(node.get("person")), created=now,
                            ).returning(NODES.c.id)
                        ).scalar_one()
                    )  # fmt: skip
                conn.execute(update(NODES).where(NODES.c.id == made[0]).values(tree=made[0]))

    # reading

    def held_by(self, person: int) -> Held | None:
        """The assignment ``person`` holds, if any (without claiming)."""
        with reading(self.engine) as conn:
            held = conn.execute(
                select(A.c.id).where(
                    A.c.holder_id == person, A.c.state == HELD, A.c.lease_until >= time.time()
                )
            ).scalar()
            return (
                None if held is None else Held(*conn.execute(HELD_VIEW, {"assignment": held}).one())
            )

    def step_of(self, key: str) -> dict | None:
        """A step's row as a dict (None: not asked)."""
        with reading(self.engine) as conn:
            row = conn.execute(select(S).where(S.c.key == key)).first()
            return None if row is None else row._asdict()

    def answered_count(self, run: int | None = None) -> int:
        """Answers people gave (in ``run``, or in all)."""
        query = select(func.count()).select_from(ANSWERS)
        if run is not None:
            query = query.join(S, S.c.id == ANSWERS.c.step_id).where(S.c.run_id == run)
        with reading(self.engine) as conn:
            return conn.execute(query).scalar_one()
