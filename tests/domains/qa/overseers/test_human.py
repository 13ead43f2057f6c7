"""People as H: trees wait on the workbench queue while the others go on, a restarted trainer
replays answered steps from the database and asks nothing twice, the budget caps the calls to
people, and H' can start from a workbench export. The people are scripted (the task's exact H
from the facts alone) and answer through the real queue on a real SQLite database."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from sqlalchemy import select

pytest.importorskip("sqlalchemy")

from ida.core.errors import IdaError  # noqa: E402
from ida.domains.qa.build import build_job  # noqa: E402
from ida.domains.qa.config import qa_config  # noqa: E402
from ida.domains.qa.overseers.human import exact_move, read_transcript  # noqa: E402
from ida.overseers.human.db import open_database  # noqa: E402
from ida.overseers.human.export import export_lines  # noqa: E402
from ida.overseers.human.queue import StepQueue  # noqa: E402
from ida.overseers.human.statements import NODES  # noqa: E402
from ida.overseers.human.testing import QueuePeople  # noqa: E402
from ida.testing import one_line_error, run_ida  # noqa: E402


def exact_people(url: str, name: str = "ada") -> QueuePeople:
    """Scripted people taking every queued step through the queue: the task's exact H from
    what they are shown."""
    from ida.domains.qa.tasks import get_task

    return QueuePeople(
        url, lambda held: exact_move(get_task(held.task, held.size), held.context), name
    )


def human_config(tiny, url, **extra):
    settings = dict(tiny, task="union_find", size=8, overseer="human", db=url, db_run="uf")
    return qa_config(settings, poll=0.01, **extra)


def amplify_in_time(job, seconds: float = 60.0):
    """One amplified round of ``job``, which must finish within ``seconds``."""
    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(job.loop.amplifier.amplify(job.loop.distiller.teacher, job.rng)),
        daemon=True,
    )
    worker.start()
    worker.join(seconds)
    return done[0] if done else None


def test_trees_wait_on_people_and_get_hs_answers(tiny, tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    job = build_job(human_config(tiny, url))
    with exact_people(url) as people:
        experience = amplify_in_time(job)
    assert experience is not None and people.answered > 0
    amp = job.loop.amplifier
    judged = experience.targets >= 0
    truth = [job.task.solve(inst, q) for inst, q in zip(*_roots(job, experience), strict=True)]
    assert (experience.targets[judged] == np.asarray(truth)[judged.ravel()]).all()
    assert amp.counts["overseer"] + amp.counts["lookup"] == judged.sum()
    queue = people.queue
    assert queue.answered_count() == people.answered
    h_prime = amp.learned_overseer
    stored = len(h_prime.buffer.stored()) + sum(s.size for s in h_prime.held_out)
    assert stored >= people.answered  # every step taken (a repeat from the record too) is in
    # H's transcript for H' to learn from
    with queue.engine.connect() as conn:  # the round's trees, for the tree viewer
        nodes = conn.execute(select(NODES.c.parent_id, NODES.c.answer, NODES.c.truth)).all()
    assert nodes and any(parent is None for parent, _, _ in nodes)
    assert all(isinstance(a, int) and isinstance(t, int) for _, a, t in nodes)


def _roots(job, experience):
    """The (instance, question) of every root slot of a round's experience."""
    task, insts, questions = job.task, [], []
    for i, facts in enumerate(experience.facts):
        inst = task.read_instance(facts)
        for q in experience.questions[i]:
            insts.append(inst)
            questions.append(tuple(int(t) for t in q))
    return insts, questions


def test_a_restarted_trainer_replays_answered_steps_and_asks_nothing_twice(tiny, tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    first = build_job(human_config(tiny, url))
    with exact_people(url) as people:
        before = amplify_in_time(first)
    asked = people.queue.answered_count()
    again = build_job(human_config(tiny, url))  # a fresh process: same seed, same round
    after = amplify_in_time(again, 30.0)  # nobody answers now: it must come from the record
    assert after is not None, "the restarted trainer waited on a step people had answered"
    assert (after.targets == before.targets).all()
    assert StepQueue(open_database(url)).answered_count() == asked


def test_the_budget_caps_the_calls_to_people(tiny, tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    job = build_job(human_config(tiny, url, human_budget=5))
    with exact_people(url):
        for _ in range(3):
            assert amplify_in_time(job) is not None
    counts = job.loop.amplifier.counts
    assert counts["overseer"] + counts["lookup"] <= 5


def test_h_prime_starts_from_a_workbench_export(tiny, tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    job = build_job(human_config(tiny, url))
    with exact_people(url) as people:
        amplify_in_time(job)
    export = tmp_path / "steps.jsonl"
    export.write_text("".join(export_lines(people.queue.engine)))
    transcript = read_transcript(job.task, str(export))
    assert len(transcript) == people.answered
    learned = build_job(
        qa_config(dict(tiny, task="union_find", size=8), overseer="learned",
                  transcripts=str(export), transcript_steps=5)
    )  # fmt: skip
    learned.loop.amplifier.propose(learned.rng)
    h_prime = learned.loop.amplifier.learned_overseer
    stored = len(h_prime.buffer.stored()) + sum(s.size for s in h_prime.held_out)
    assert stored == people.answered


def test_bad_exports_and_settings_are_one_line_errors(tiny, tmp_path, monkeypatch, capsys):
    from ida.domains.qa.tasks import get_task

    task = get_task("union_find", 8)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "union_find"}\n')
    with pytest.raises(IdaError, match="line 1|:1:"):
        read_transcript(task, str(bad))
    bad.write_text(
        '{"task": "union_find", "size": 8, "facts": [[1, 2, 3]], "question": [1, 5], '
        '"answered": [], "move": {"answer": 1}}\n'
    )
    with pytest.raises(IdaError, match="not a step of union_find"):
        read_transcript(task, str(bad))
    with pytest.raises(IdaError, match="overseer"):
        qa_config(dict(tiny, task="union_find"), overseer="human", amplify="adversarial")
    with pytest.raises(IdaError, match="human"):
        qa_config(dict(tiny, task="union_find"), overseer="human", distill="best_of_n")
    with pytest.raises(IdaError, match="transcripts"):
        qa_config(tiny, transcripts="x.jsonl")
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "union_find", "--overseer", "human",
        "--db", "nosuch://x", "--steps", "2", "--out", tmp_path / "run",
    )  # fmt: skip
    one_line_error(code, err, "database")


@pytest.mark.parametrize(
    "move, says",
    [
        ({"answer": 8}, "out of range"),
        ({"ask": [[2, 5], [2, 6], [2, 7]]}, "not 3"),
        ({"ask": [[3, 5]]}, "fits none"),
    ],
)
def test_an_exported_move_the_task_cannot_take_is_a_one_line_error(tmp_path, move, says):
    from ida.domains.qa.tasks import get_task

    task = get_task("union_find", 8)
    facts = task.sample_instance(np.random.default_rng(0)).facts.tolist()
    good = dict(task="union_find", size=8, facts=facts, question=[2, 5], answered=[])
    lines = [dict(good, move={"answer": 1}), dict(good, move=move)]
    export = tmp_path / "steps.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(IdaError, match=f"record 2 is not a step of union_find: .*{says}") as bad:
        read_transcript(task, str(export))
    assert "\n" not in str(bad.value)
    export.write_text(json.dumps(lines[0]) + "\n")
    assert [step for *_, step in read_transcript(task, str(export))] == [1]
