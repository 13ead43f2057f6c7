"""The queue's tables, and the SQL its transactions run, written once as the driver's own SQL
(``?`` placeholders; the PostgreSQL runner in ``db`` turns them into psycopg's ``%s``).

Claims, heartbeats and submissions are a handful of short statements each; building and
compiling them through SQLAlchemy cost more CPU than running them, so they go to the driver
(sqlite3, psycopg) as text, prepared once by the driver (sqlite3's statement cache, psycopg's
automatic server-side prepare). On PostgreSQL a transaction's statements are sent together
(pipeline mode): a claim is one round trip, a submission two.

Statements that differ by backend come in pairs: the PostgreSQL one takes row locks
(``FOR UPDATE SKIP LOCKED``, ``FOR NO KEY UPDATE``); on SQLite, ``BEGIN IMMEDIATE`` already
serialises writers.
"""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, select

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

HELD_VIEW = (  # for reads outside a transaction (``held_by``)
    select(
        A.c.id, A.c.fence, A.c.lease_until, S.c.id.label("step"), S.c.key, RUNS.c.name,
        RUNS.c.task, RUNS.c.size, S.c.level, S.c.context, S.c.suggestion, S.c.suspicion,
    )
    .select_from(A.join(S, S.c.id == A.c.step_id).join(RUNS, RUNS.c.id == S.c.run_id))
    .where(A.c.id == bindparam("assignment"))
)  # fmt: skip


# -- claims ----------------------------------------------------------------------------------

# two claims by one person at once (a double click) would each miss the other's at READ
# COMMITTED and take two tasks: the person's row serialises them (PostgreSQL only)
LOCK_PERSON = "SELECT id FROM people WHERE id = ? FOR NO KEY UPDATE"
REAP = (  # expired leases back to the queue: (now)
    f"UPDATE assignments SET state = '{QUEUED}', holder_id = NULL, lease_until = NULL "
    f"WHERE state = '{HELD}' AND lease_until < ?"
)


@functools.cache
def claim_sql(dialect: str, lock: bool, runs: int | None) -> str:
    """The claim: the best queued assignment (highest priority, then oldest; the order of
    ``ix_assignments_queue``) of a step this person holds no replica of, leased to them with
    its fencing token bumped, unless they hold one already. Parameters: (person, until, now,
    person, person, *runs). With ``lock`` (PostgreSQL) the candidate is taken ``FOR UPDATE
    SKIP LOCKED``: without the row lock the UPDATE re-checks only the id after waiting on a
    concurrent claim and re-takes the row it took. ``runs``: only steps of that many runs."""
    by_run = ""
    if runs is not None:
        marks = ", ".join("?" * runs) or "NULL"
        by_run = f"AND a.step_id IN (SELECT id FROM steps WHERE run_id IN ({marks})) "
    pg = dialect == "postgresql"
    locked = "FOR UPDATE SKIP LOCKED" if lock and pg else ""
    # PostgreSQL: OFFSET 0 keeps the check a probe per candidate (by uq_assignment_replica);
    # as an anti-join it reads every assignment the person ever held (measured: 0.13 against
    # 1.5 ms a claim with 12,000 assignments)
    probe = " OFFSET 0" if pg else ""
    return (
        f"UPDATE assignments SET state = '{HELD}', holder_id = ?, lease_until = ?, "
        "fence = fence + 1, claimed_at = ? "
        "WHERE id = (SELECT a.id FROM assignments AS a "
        f"WHERE a.state = '{QUEUED}' "
        f"AND NOT EXISTS (SELECT 1 FROM assignments AS m WHERE m.holder_id = ? "
        f"AND m.state = '{HELD}') "
        "AND NOT EXISTS (SELECT 1 FROM assignments AS t "
        f"WHERE t.step_id = a.step_id AND t.holder_id = ?{probe}) "
        f"{by_run}ORDER BY a.priority DESC, a.id LIMIT 1 {locked})"
    )


# what the holder sees (``Held``), then the step's origin and its run's overlap: (person); at
# most one (the person's row lock, or SQLite's one writer)
_VIEW = (
    "s.id, s.key, r.name, r.task, r.size, s.level, s.context, s.suggestion, s.suspicion, "
    "s.origin_id, r.overlap"
)
HELD_ROW = (
    f"SELECT a.id, a.fence, a.lease_until, {_VIEW} "
    "FROM assignments AS a JOIN steps AS s ON s.id = a.step_id JOIN runs AS r ON r.id = s.run_id "
    f"WHERE a.holder_id = ? AND a.state = '{HELD}' ORDER BY a.id LIMIT 1"
)

# PostgreSQL, where each statement is a message each way and work for both processes, does the
# claim in two statements sent together and committed together (one implicit transaction):
# the person's row lock with the reaping, then the claim and what the person holds, which, a
# statement after the lock, sees what a claim of theirs that went first committed: (now,
# person), then claim_sql's parameters and (person).
LOCK_AND_REAP = f"WITH reaped AS ({REAP}) {LOCK_PERSON}"


@functools.cache
def claim_and_view_pg(lock: bool, runs: int | None) -> str:
    """The claim, returning what the person holds (``HELD_ROW``'s columns): the row it just
    claimed, or the one they held (the statement's snapshot does not see its own update)."""
    return (
        f"WITH claimed AS ({claim_sql('postgresql', lock, runs)} "
        "RETURNING id, fence, lease_until, step_id), "
        "held AS (SELECT id, fence, lease_until, step_id FROM claimed UNION ALL "
        "SELECT id, fence, lease_until, step_id FROM assignments "
        f"WHERE holder_id = ? AND state = '{HELD}') "
        f"SELECT a.id, a.fence, a.lease_until, {_VIEW} "
        "FROM held AS a JOIN steps AS s ON s.id = a.step_id JOIN runs AS r ON r.id = s.run_id "
        "ORDER BY a.id LIMIT 1"
    )


HEARTBEAT = (  # (until, assignment, person, fence, held since)
    f"UPDATE assignments SET lease_until = ? WHERE id = ? AND holder_id = ? AND fence = ? "
    f"AND state = '{HELD}' AND claimed_at > ? RETURNING id"
)

# -- submissions -----------------------------------------------------------------------------

# a fenced submission takes its assignment: only the holder, with the claim's token
_TAKEN = f"UPDATE assignments SET state = '{DONE}' WHERE id = ? AND state = '{HELD}'"
TAKE = {True: f"{_TAKEN} AND holder_id = ? AND fence = ?", False: _TAKEN}  # False: the fault
# harness's negative control, any submission of a held task
_ANSWER_COLUMNS = "(assignment_id, step_id, person_id, fence, move, created, seconds)"
ANSWER = f"INSERT INTO answers {_ANSWER_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)"


def take_and_answer_pg(fence: bool) -> str:
    """PostgreSQL: take the assignment and record the answer in one statement. Parameters:
    (assignment[, person, fence]) for the take, then (assignment, person, fence, move, now,
    now, now); returns the step, or nothing if the take found no held assignment."""
    return (
        f"WITH taken AS ({TAKE[fence]} RETURNING step_id, claimed_at) "
        f"INSERT INTO answers {_ANSWER_COLUMNS} "
        "SELECT ?, step_id, ?, ?, ?, ?, ? - COALESCE(claimed_at, ?) FROM taken RETURNING step_id"
    )


@functools.cache
def submit_alone_pg(fence: bool) -> str:
    """PostgreSQL: the whole submission in one statement where the step has one replica and
    answers no other step's subquestion (as the claim told): take the assignment, record the
    answer, resolve the step to it, make the subquestions it asks. Parameters: the take's, the
    answer's (as ``take_and_answer_pg``), (move, now) for the step, then the asked questions as
    one JSON list (or None). Returns the step, or nothing if the take found no held assignment
    (then nothing changed)."""
    return (
        f"WITH taken AS ({TAKE[fence]} RETURNING step_id, claimed_at), "
        f"answered AS (INSERT INTO answers {_ANSWER_COLUMNS} "
        "SELECT ?, step_id, ?, ?, ?, ?, ? - COALESCE(claimed_at, ?) FROM taken "
        "RETURNING step_id), "
        f"resolved AS (UPDATE steps SET state = '{DONE}', move = ?, done_at = ? "
        f"WHERE id = (SELECT step_id FROM answered) AND state = '{OPEN}' RETURNING id), "
        "asked AS (INSERT INTO subquestions (step_id, position, question) "
        "SELECT resolved.id, q.position - 1, q.question FROM resolved, "
        "json_array_elements(?::json) WITH ORDINALITY AS q(question, position)) "
        "SELECT step_id FROM answered"
    )


# the step the answer is for, with the row lock: concurrent replicas' submissions (and
# concurrent answers to its subquestions) look in turn. ``FOR NO KEY UPDATE``: the answers'
# foreign keys hold ``KEY SHARE`` locks on the step, which a plain ``FOR UPDATE`` would
# deadlock on; at READ COMMITTED (PostgreSQL) two transactions that each add an answer and
# then count them would otherwise each miss the other's; the next statement, run after the
# lock is granted, sees every answer committed before. (SQLite's ``BEGIN IMMEDIATE`` already
# serialises them.) Parameter: (step), or on PostgreSQL (assignment) via the answer just made.
_STEP = (
    "SELECT s.id, s.run_id, s.origin_id, r.overlap "
    "FROM steps AS s JOIN runs AS r ON r.id = s.run_id"
)
LOCK_STEP = {
    "sqlite": f"{_STEP} WHERE s.id = ?",
    "postgresql": f"{_STEP} WHERE s.id = (SELECT step_id FROM answers WHERE assignment_id = ?) "
    "FOR NO KEY UPDATE OF s",
}
STEP_MOVES = {  # the step's answers so far, first first
    "sqlite": "SELECT move FROM answers WHERE step_id = ? ORDER BY id",
    "postgresql": "SELECT move FROM answers WHERE step_id = "
    "(SELECT step_id FROM answers WHERE assignment_id = ?) ORDER BY id",
}
RESOLVE = (  # (move, now, step)
    f"UPDATE steps SET state = '{DONE}', move = ?, done_at = ? WHERE id = ? AND state = '{OPEN}'"
)
# only if the RESOLVE just before resolved the step (its ``done_at`` is this submission's
# ``now``): the statements after it go in the same round trip, before its row count is known
_RESOLVED_NOW = f"SELECT id FROM steps WHERE id = ? AND state = '{DONE}' AND done_at = ?"
ASK = (  # a subquestion the move asks: (position, question, step, now)
    "INSERT INTO subquestions (step_id, position, question) "
    f"SELECT id, ?, ? FROM ({_RESOLVED_NOW}) AS resolved"
)
ANSWER_ORIGIN = (  # the chain answers another step's subquestion: (answer, origin, step, now)
    "UPDATE subquestions SET answer = ?, by = 'person' WHERE id = ? AND answer IS NULL "
    f"AND EXISTS ({_RESOLVED_NOW}) RETURNING step_id"
)
REFUSAL = (  # why a heartbeat or submission does not apply: (assignment) each
    "SELECT state, holder_id, fence FROM assignments WHERE id = ?",
    "SELECT person_id, fence, move FROM answers WHERE assignment_id = ?",
)

# -- posting steps, and the fan-in once a step's subquestions are answered --------------------

RUN_OF = "SELECT task, size, overlap FROM runs WHERE id = ?"
RUN_OF_STEP = (
    "SELECT task, size, overlap FROM runs WHERE id = (SELECT run_id FROM steps WHERE id = ?)"
)
STEP_BY_KEY = "SELECT id FROM steps WHERE key = ?"
POST_STEP = (  # a post of the same context at the same moment inserts nothing
    "INSERT INTO steps (run_id, key, level, context, suggestion, suspicion, origin_id, "
    "priority, state, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO NOTHING RETURNING id"
)
POST_ASSIGNMENT = (
    "INSERT INTO assignments (step_id, replica, priority, state, fence) VALUES (?, ?, ?, ?, 0)"
)
LOCK_FAN_IN = {  # the step whose subquestions are answered, locked as ``LOCK_STEP``: (step)
    "sqlite": "SELECT run_id, level, context, suggestion, suspicion, origin_id FROM steps "
    "WHERE id = ?",
    "postgresql": "SELECT run_id, level, context, suggestion, suspicion, origin_id FROM steps "
    "WHERE id = ? FOR NO KEY UPDATE",
}
SUBQUESTIONS = "SELECT question, answer FROM subquestions WHERE step_id = ? ORDER BY position"
ANSWER_SUBQUESTION = (  # (answer, by, step, position)
    "UPDATE subquestions SET answer = ?, by = ? WHERE step_id = ? AND position = ? "
    "AND answer IS NULL"
)
