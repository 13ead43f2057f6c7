"""Every recorded step as JSON lines, streamed: the context H saw, the move, who and when.

One line per accepted answer (with overlap, one per person), in the order they were given::

    {"task": "union_find", "size": 8, "run": "uf", "facts": [[...], ...], "question": [2, 7],
     "answered": [[[2, 9], 4]], "move": {"answer": 4}, "person": "ada", "at": 1796600000.0}

``read_steps`` reads it back (it needs no database, so no web extra either), and the learned
overseer H' trains on it (``--overseer learned --set transcripts=FILE``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ida.core.errors import IdaError

if TYPE_CHECKING:
    from sqlalchemy import Engine

FIELDS = ("task", "size", "facts", "question", "answered", "move")


def export_lines(engine: Engine, run: str | None = None) -> Iterator[str]:
    """The export, one JSON line (with its newline) at a time; ``run`` limits it to one run."""
    from sqlalchemy import select

    from ida.overseers.human.db import iter_rows
    from ida.overseers.human.statements import ANSWERS, PEOPLE, RUNS, S

    query = (
        select(
            RUNS.c.task, RUNS.c.size, RUNS.c.name, S.c.context, ANSWERS.c.move,
            PEOPLE.c.name, ANSWERS.c.created,
        )
        .select_from(
            ANSWERS.join(S, S.c.id == ANSWERS.c.step_id)
            .join(RUNS, RUNS.c.id == S.c.run_id)
            .join(PEOPLE, PEOPLE.c.id == ANSWERS.c.person_id)
        )
        .order_by(ANSWERS.c.id)
    )  # fmt: skip
    if run is not None:
        query = query.where(RUNS.c.name == run)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for task, size, name, context, move, person, at in iter_rows(engine, query):
        record = {
            "task": task, "size": size, "run": name, "facts": context["facts"],
            "question": context["question"], "answered": context["answered"],
            "move": move, "person": person, "at": at,
        }  # fmt: skip
        if context.get("last"):  # H's last turn on the question
            record["last"] = True
        yield dumps(record) + "\n"


def read_steps(path: str | Path) -> Iterator[dict]:
    """The records of an export file; a line that is not a recorded step is a one-line
    ``IdaError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise IdaError(f"no export file {path}")
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise IdaError(f"{path}:{number}: not a JSON line") from None
            if not isinstance(record, dict) or any(f not in record for f in FIELDS):
                missing = [f for f in FIELDS if not isinstance(record, dict) or f not in record]
                raise IdaError(f"{path}:{number}: not a recorded step (missing {missing[0]})")
            yield record
