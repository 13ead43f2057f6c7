"""The workbench's tables (SQLAlchemy 2). Times are unix seconds bound from Python, which
behaves the same on SQLite and PostgreSQL.

* ``people``: who may answer, with the hash of their sign-in token and their role.
* ``runs``: a training run (or any source of steps) and the task its steps belong to.
* ``steps``: one weak HCH step for H to take: the context (facts, question, the answered
  subquestions so far), keyed by a hash of it, so the same step in the same context is asked
  once; once answered, the move (an answer, or one or two subquestions).
* ``assignments``: the queue: one row per person who must answer a step (``overlap`` of them),
  with its lease, holder and fencing token. Its indexes are partial: the queued rows in the
  claim's order, the held rows by holder and by lease; a row leaves them as it is claimed and
  answered, so they stay as small as the live queue, and an answered row costs no index
  writes but its own.
* ``answers``: what people submitted, one per assignment (the unique constraint makes the
  database itself refuse a second).
* ``subquestions``: the subquestions a step's move asked, and their answers once given; when
  all are answered the next step of the same question (its fan-in) is made ready.
* ``nodes``: the finished trees of a run, node by node, for the tree viewer (answers as JSON:
  any domain's).
* ``settings``: the server's own values (the key that signs sessions).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ANNOTATOR, ADMIN = "annotator", "admin"
QUEUED, HELD, DONE = "queued", "held", "done"  # an assignment's states
OPEN = "open"  # a step not yet answered (its state is DONE once it is)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[float] = mapped_column(Float)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    task: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    directory: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created: Mapped[float] = mapped_column(Float)


class Step(Base):
    __tablename__ = "steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    context: Mapped[dict] = mapped_column(JSON)
    suggestion: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suspicion: Mapped[float | None] = mapped_column(Float, nullable=True)
    origin_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # subquestion answered
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(10), default=OPEN)
    move: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    __table_args__ = (Index("ix_steps_run_state", "run_id", "state"),)


class Assignment(Base):
    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    replica: Mapped[int] = mapped_column(Integer)
    priority: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(10), default=QUEUED)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    fence: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # (step_id, replica) also serves the claim's check that a person holds no other replica
    __table_args__ = (UniqueConstraint("step_id", "replica", name="uq_assignment_replica"),)


def _only(state: str) -> dict:
    where = text(f"state = '{state}'")
    return {"sqlite_where": where, "postgresql_where": where}


# the claim's order: highest priority first, then oldest (its ORDER BY, read off the index)
Index("ix_assignments_queued", Assignment.priority.desc(), Assignment.id, **_only(QUEUED))
Index("ix_assignments_held_by", Assignment.holder_id, **_only(HELD))  # what a person holds
Index("ix_assignments_held_until", Assignment.lease_until, **_only(HELD))  # leases to reap


class Answer(Base):
    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), unique=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    fence: Mapped[int] = mapped_column(Integer)
    move: Mapped[dict] = mapped_column(JSON)
    created: Mapped[float] = mapped_column(Float, index=True)
    seconds: Mapped[float] = mapped_column(Float)


class Subquestion(Base):
    __tablename__ = "subquestions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[list] = mapped_column(JSON)
    answer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    __table_args__ = (UniqueConstraint("step_id", "position", name="uq_subquestion_position"),)


class TreeNode(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    tree: Mapped[int] = mapped_column(Integer)  # the id of the tree's root node (itself at roots)
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    round: Mapped[int] = mapped_column(Integer)
    facts: Mapped[list | None] = mapped_column(JSON, nullable=True)  # at roots only
    question: Mapped[list] = mapped_column(JSON)
    answer: Mapped[Any] = mapped_column(JSON)  # any domain's answer (a token, words)
    truth: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    by: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    created: Mapped[float] = mapped_column(Float)


class Setting(Base):
    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))
