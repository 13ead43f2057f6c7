"""What the workbench's queue keeps beside its transactions, on SQLAlchemy Core (none of it is
on a person's claim or submission): the moves of answered steps (what a trainer's desk polls
for), the finished trees recorded for the tree viewer, and reads of a person's held task, a
step's row and the count of answers. ``StepQueue`` has these as its own methods."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from ida.overseers.human.db import reading
from ida.overseers.human.protocol import Held, Move
from ida.overseers.human.schema import DONE, HELD
from ida.overseers.human.statements import ANSWERS, HELD_VIEW, NODES, PEOPLE, A, S


class Records:
    """The queue's records and reads on ``engine`` (a base of ``StepQueue``)."""

    engine: Engine

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
