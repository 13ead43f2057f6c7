"""``ida workbench``: add-user prints the token once, export streams the steps, and bad input
(an unknown database scheme, an unreachable database, a duplicate name, no web extra) is one
line ``error: ...`` with exit code 2."""

from __future__ import annotations

import json
import sys

import numpy as np

from ida.domains.qa.tasks import get_task
from ida.overseers.human.db import open_database
from ida.overseers.human.people import person_by_token
from ida.overseers.human.protocol import Post, context_of
from ida.overseers.human.queue import StepQueue
from ida.testing import one_line_error, run_ida


def test_add_user_and_export(monkeypatch, capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'wb.db'}"
    code, out, err = run_ida(monkeypatch, capsys, "workbench", "add-user", "ada", "--db", url)
    assert code == 0 and "shown only once" in err
    token = out.strip()
    engine = open_database(url)
    assert tuple(person_by_token(engine, token))[1:] == ("ada", "annotator")
    one_line_error(
        *run_ida(monkeypatch, capsys, "workbench", "add-user", "ada", "--db", url)[::2], "already"
    )

    queue = StepQueue(engine)
    task, rng = get_task("union_find", 8), np.random.default_rng(0)
    inst = task.sample_instance(rng)
    run = queue.run_id("uf", "union_find", 8)
    queue.post(run, [Post(context_of(inst.facts.tolist(), task.sample_question(rng, inst, 0), []))])
    person = person_by_token(engine, token).id
    held = queue.claim(person)
    assert queue.submit(person, held.assignment, held.fence, {"answer": 2})
    code, out, _ = run_ida(monkeypatch, capsys, "workbench", "export", "--db", url, "--run", "uf")
    assert code == 0 and json.loads(out)["move"] == {"answer": 2}
    target = tmp_path / "steps.jsonl"
    assert run_ida(monkeypatch, capsys, "workbench", "export", "--db", url, "--out", target)[0] == 0
    assert target.read_text() == out
    one_line_error(
        *run_ida(monkeypatch, capsys, "workbench", "export", "--db", url, "--run", "x")[::2],
        "no run 'x'",
    )


def test_bad_databases_are_one_line_errors(monkeypatch, capsys, tmp_path):
    for args, says in [
        (("export", "--db", "mysql://h/x"), "unsupported database"),
        (("add-user", "bo", "--db", f"sqlite:///{tmp_path}/no/such/dir/x.db"), "cannot open"),
        (("serve", "--db", "nonsense"), "not a database URL"),
        (("serve", "--db", f"sqlite:///{tmp_path / 'a.db'}", "--unsafe", "yes"), "--unsafe"),
    ]:
        one_line_error(*run_ida(monkeypatch, capsys, "workbench", *args)[::2], says)


def test_without_the_web_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    code, _, err = run_ida(monkeypatch, capsys, "workbench", "export")
    one_line_error(code, err, 'pip install "ida[web]"')


def test_the_cli_does_not_import_the_web_stack():
    import subprocess

    check = "import sys, ida.cli; print(sorted({'fastapi', 'sqlalchemy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_serve_with_several_processes(monkeypatch, capsys, tmp_path):
    import urllib.request

    from ida.overseers.human.people import add_person
    from ida.overseers.human.testing import free_port, start_server, stop_server

    url = f"sqlite:///{tmp_path / 'wb.db'}"
    token = add_person(open_database(url), "ada")
    server = start_server(url, free_port(), "--workers", "2")
    try:
        port = server.args[server.args.index("--port") + 1]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/claim", method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204  # signed in, nothing queued, in either process
    finally:
        stop_server(server)
    one_line_error(
        *run_ida(monkeypatch, capsys, "workbench", "serve", "--db", url, "--workers", "0")[::2],
        "--workers",
    )
