"""The queue's tables and the statements its hot path runs, built once: claims and
submissions execute these, compiled once and cached, instead of building each statement per
call (which cost more than running it)."""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, insert, select, update

from ida.overseers.human.schema import (
    DONE,
    HELD,
    OPEN,
    QUEUED,
    Answer,
    Assignment,
    Person,
    Run,
    Step,
    Subquestion,
    TreeNode,
)

A, S, SQ = Assignment.__table__, Step.__table__, Subquestion.__table__
ANSWERS, RUNS, PEOPLE = Answer.__table__, Run.__table__, Person.__table__
NODES = TreeNode.__table__


REAP = (
    update(A)
    .where(A.c.state == HELD, A.c.lease_until < bindparam("now"))
    .values(state=QUEUED, holder_id=None, lease_until=None)
)
# two claims by one person at once (a double click) would each miss the other's at READ
# COMMITTED and take two tasks: the person's row serialises them (SQLite: a no-op)
LOCK_PERSON = (
    select(PEOPLE.c.id).where(PEOPLE.c.id == bindparam("person")).with_for_update(key_share=True)
)
MINE = select(A.c.id).where(A.c.holder_id == bindparam("person"), A.c.state == HELD).limit(1)
HELD_VIEW = (
    select(
        A.c.id, A.c.fence, A.c.lease_until, S.c.id.label("step"), S.c.key, RUNS.c.name,
        RUNS.c.task, RUNS.c.size, S.c.level, S.c.context, S.c.suggestion, S.c.suspicion,
    )
    .select_from(A.join(S, S.c.id == A.c.step_id).join(RUNS, RUNS.c.id == S.c.run_id))
    .where(A.c.id == bindparam("assignment"))
)  # fmt: skip
TAKE = (  # a fenced submission takes its assignment: only the holder, with the claim's token
    update(A)
    .where(
        A.c.id == bindparam("assignment"), A.c.state == HELD,
        A.c.holder_id == bindparam("person"), A.c.fence == bindparam("token"),
    )
    .values(state=DONE)
    .returning(A.c.step_id, A.c.claimed_at)
)  # fmt: skip
TAKE_UNFENCED = (  # the fault harness's negative control: any submission of a held task
    update(A)
    .where(A.c.id == bindparam("assignment"), A.c.state == HELD)
    .values(state=DONE)
    .returning(A.c.step_id, A.c.claimed_at)
)
ANSWER = insert(ANSWERS)
# ``FOR NO KEY UPDATE``: the answers' foreign keys hold ``KEY SHARE`` locks on the step, which a
# plain ``FOR UPDATE`` would deadlock on; at READ COMMITTED (PostgreSQL) two transactions that
# each add an answer and then count them would otherwise each miss the other's. (SQLite's
# ``BEGIN IMMEDIATE`` already serialises them.)
LOCK_STEP = (
    select(S.c.run_id, S.c.origin_id)
    .where(S.c.id == bindparam("step"))
    .with_for_update(key_share=True)
)
STEP_MOVES = (
    select(ANSWERS.c.move).where(ANSWERS.c.step_id == bindparam("step")).order_by(ANSWERS.c.id)
)
RESOLVE = (
    update(S)
    .where(S.c.id == bindparam("step"), S.c.state == OPEN)
    .values(state=DONE, move=bindparam("resolved"), done_at=bindparam("now"))
)


@functools.cache
def claim_statement(lock: bool, by_run: bool):
    """The claim's statement: the best queued assignment (highest priority, then oldest) of a
    step this person holds no replica of, leased to them with its fencing token bumped. With
    ``lock`` the candidate is taken ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; nothing on SQLite);
    ``by_run``: only steps of the runs in ``runs``."""
    theirs = A.alias("theirs")
    candidate = select(A.c.id).where(
        A.c.state == QUEUED,
        ~select(theirs.c.id)
        .where(theirs.c.step_id == A.c.step_id, theirs.c.holder_id == bindparam("person"))
        .exists(),
    )
    if by_run:
        candidate = candidate.where(
            A.c.step_id.in_(select(S.c.id).where(S.c.run_id.in_(bindparam("runs", expanding=True))))
        )
    candidate = candidate.order_by(A.c.priority.desc(), A.c.id).limit(1)
    if lock:
        candidate = candidate.with_for_update(skip_locked=True)
    return (
        update(A)
        .where(A.c.id == candidate.scalar_subquery())
        .values(
            state=HELD, holder_id=bindparam("person"), lease_until=bindparam("until"),
            fence=A.c.fence + 1, claimed_at=bindparam("now"),
        )
        .returning(A.c.id)
    )  # fmt: skip
