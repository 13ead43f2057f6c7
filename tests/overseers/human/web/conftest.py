"""The workbench's web app on a fresh SQLite database: people, a run of union_find steps, a
TestClient and (for the browser tests) a real uvicorn server on a free port."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest

from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import Task
from ida.overseers.human.people import add_person
from ida.overseers.human.protocol import Post, context_of
from ida.overseers.human.queue import StepQueue
from ida.overseers.human.web import make_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TASK, SIZE = "union_find", 8


@dataclass
class Bench:
    """A workbench under test: its app, queue, tokens and the task of its steps."""

    url: str
    app: object
    queue: StepQueue
    task: Task
    tokens: dict[str, str]
    run: int
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def engine(self):
        return self.queue.engine

    def headers(self, who: str = "ada") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, level: int = 0, **extra) -> tuple[str, dict, object]:
        """Post one step: a fresh instance and question at ``level``; (key, context, inst)."""
        inst = self.task.sample_instance(self.rng)
        question = self.task.sample_question(self.rng, inst, level)
        context = context_of(inst.facts.tolist(), question, [])
        (key,) = self.queue.post(self.run, [Post(context, level=level, **extra)])
        return key, context, inst

    def client(self) -> TestClient:
        return TestClient(self.app)

    def counts(self) -> dict[str, int]:
        """Rows per table and the assignments' states: what a refused request must not change."""
        from sqlalchemy import func, select

        from ida.overseers.human.statements import ANSWERS, SQ, A, S

        with self.engine.connect() as conn:
            found = {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in (("steps", S), ("answers", ANSWERS), ("subquestions", SQ))
            }
            found["assignments"] = sorted(
                map(tuple, conn.execute(select(A.c.id, A.c.state, A.c.fence, A.c.holder_id)))
            )
        return found


def make_bench(tmp_path, lease: float = 60.0) -> Bench:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    app = make_app(url, lease=lease)
    queue = app.state.wb.queue
    tokens = {
        "ada": add_person(queue.engine, "ada", admin=True),
        "bob": add_person(queue.engine, "bob"),
    }
    run = queue.run_id("uf", TASK, SIZE)
    return Bench(url, app, queue, get_task(TASK, SIZE), tokens, run)


@pytest.fixture
def bench(tmp_path) -> Bench:
    return make_bench(tmp_path)


@pytest.fixture
def make(tmp_path):
    """``make(lease=...)``: a bench with another lease."""
    return lambda lease=60.0: make_bench(tmp_path, lease)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A real uvicorn server in a thread on 127.0.0.1 and a free port: (bench, base URL)."""
    import httpx
    import uvicorn

    made = make_bench(tmp_path, lease=3.0)  # the page's heartbeat: every second
    port = free_port()
    config = uvicorn.Config(made.app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workbench server did not start")
        time.sleep(0.05)
    yield made, base
    running.should_exit = True
    thread.join(10)
    made.engine.dispose()
