"""People as H in the text domain: the trees wait on the workbench queue for typed moves while
the others go on and get the targets the scripted reader would give; a restarted trainer
replays the moves people made and asks nothing twice; a whole ``ida train --overseer human``
run. The people are scripted readers answering through the real queue on a real SQLite
database, their moves checked as the web app checks them."""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import select

from ida.domains.text.config import configure  # noqa: E402
from ida.domains.text.job import TextJob  # noqa: E402
from ida.domains.text.workbench import GIVE_UP, TextBench  # noqa: E402
from ida.overseers.human.db import open_database  # noqa: E402
from ida.overseers.human.people import add_person  # noqa: E402
from ida.overseers.human.queue import StepQueue  # noqa: E402
from ida.overseers.human.statements import NODES, RUNS  # noqa: E402
from ida.overseers.human.testing import QueuePeople  # noqa: E402
from ida.testing import one_line_error, run_ida  # noqa: E402

TINY = {
    "size": 4,
    "max_hops": 3,
    "steps": 2,
    "eval_every": 2,
    "instances_per_round": 2,
    "questions_per_instance": 3,
    "batch_instances": 2,
    "eval_per_level": 8,
    "curriculum_samples": 8,
    "model": {"d_model": 16, "n_heads": 2, "enc_layers": 1, "dec_layers": 1},
    "device": "cpu",
}


def people(url: str) -> QueuePeople:
    """Scripted readers at the queue, their moves checked as the web app checks them."""
    check = TextBench()
    return QueuePeople(
        url, lambda held: check.parse_move(held.context, check.scripted_move(held.context))
    )


def admin(url: str):
    """A TestClient of the workbench on ``url``, signed in as an admin."""
    import re
    import warnings

    from ida.overseers.human.web import make_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    app = make_app(url)
    token = add_person(app.state.wb.queue.engine, "root", admin=True)
    client = TestClient(app)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": csrf, "token": token}).status_code == 200
    return client


def config(url: str, **extra):
    return configure("text_kb", {**TINY, "overseer": "human", "db": url, "db_run": "t", **extra})


def propose(job: TextJob):
    """A round of questions of 1 to 3 hops."""
    job.curriculum.level = 2
    return job.amplifier.propose(np.random.default_rng(7))


def expand_in_time(job: TextJob, seconds: float = 60.0):
    """One round of ``job`` proposed and expanded, which must finish within ``seconds``."""
    amp, done, work = job.amplifier, [], propose(job)
    worker = threading.Thread(
        target=lambda: done.append(amp.expand(job.distiller.teacher, work)), daemon=True
    )
    worker.start()
    worker.join(seconds)
    return done[0] if done else None


def test_trees_wait_on_people_and_get_the_readers_targets(tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    job = TextJob(config(url))
    with people(url) as crowd:
        found = expand_in_time(job)
    assert found is not None and crowd.answered > 0
    scripted = TextJob(configure("text_kb", TINY))  # the same seed: the same A
    work = propose(scripted)
    expected = scripted.amplifier.expand(scripted.distiller.teacher, work)
    assert [None if t == GIVE_UP else t for t in found.targets] == expected.targets
    assert any(expected.targets)
    assert found.counts["overseer_calls"] == expected.counts["overseer_calls"] > len(work.roots)
    assert found.counts["h_posted"] == found.counts["overseer_calls"]
    assert crowd.queue.answered_count() == crowd.answered


def test_a_restarted_trainer_replays_what_people_did_and_asks_nothing_twice(tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    with people(url) as crowd:
        before = expand_in_time(TextJob(config(url)))
    asked = crowd.queue.answered_count()
    after = expand_in_time(TextJob(config(url)), 30.0)  # nobody answers now
    assert after is not None, "the restarted trainer waited on a step people had answered"
    assert after.targets == before.targets
    assert StepQueue(open_database(url)).answered_count() == asked


def test_ida_train_with_people_at_the_workbench(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/w.db"
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in TINY.items() if k != "model"]
    with people(url):
        code, _, err = run_ida(
            monkeypatch, capsys,
            "train", "text_kb", "--overseer", "human", "--db", url, "--out", str(out),
            "--set", "model.d_model=16", "--set", "model.enc_layers=1",
            "--set", "model.dec_layers=1", *settings,
        )  # fmt: skip
    assert code == 0, err
    assert (out / "summary.json").exists()
    queue = StepQueue(open_database(url))
    with queue.engine.connect() as conn:
        assert conn.execute(select(RUNS.c.name, RUNS.c.directory)).all() == [
            (str(out), str(out.resolve()))
        ]
    assert queue.answered_count() > 0
    # the admin's pages of the run: the run listed, and the model's own tree in English
    client = admin(url)
    assert str(out) in client.get("/admin").text
    shown = client.get(f"/runs/{out}/model")
    assert shown.status_code == 200 and "cannot show" not in shown.text
    assert "<h2>ida show</h2>" in shown.text and "overseer steps" in shown.text
    # the tree viewer: the recorded trees in English, who answered each node, and if rightly
    with queue.engine.connect() as conn:
        nodes = conn.execute(select(NODES.c.question, NODES.c.answer, NODES.c.truth)).all()
    assert nodes and all(isinstance(q, str) and isinstance(a, str) for q, a, _ in nodes)
    trees = client.get(f"/runs/{out}/trees").text
    assert nodes[-1].question.replace("'", "&#39;") in trees and "[ada]" in trees
    assert "✓" in trees


def test_people_cannot_be_sent_to_workers(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/w.db"
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "text_kb", "--overseer", "human", "--db", url,
        "--workers", "2", "--out", str(tmp_path / "run"), "--set", "steps=2",
    )  # fmt: skip
    one_line_error(code, err, "cannot run on workers")
