"""What the workbench's tests and benchmarks share to start real components.

* ``free_port()``: a TCP port on 127.0.0.1 that nothing listens on (just now).
* ``CHROMIUM``: where the browser tests find Debian's Chromium.
* ``QueuePeople(url, move)``: scripted people in a thread, taking every queued step straight
  from the queue on ``url`` and submitting ``move(held)`` (``with QueuePeople(...) as p:``).
* ``throwaway_postgres(port=None)``: a PostgreSQL server of its own (the newest
  ``/usr/lib/postgresql/*/bin``, else ``pg_ctl`` on ``PATH``) in a temporary directory, on
  127.0.0.1, removed afterwards. The ``Postgres`` it yields has ``.url``, ``stop(mode)`` and
  ``start()`` (a fault harness stops it with ``mode="immediate"``, a crash, and starts it
  again on the same data) and ``new_database()``. As root, ``initdb`` and the server run as
  the ``postgres`` user through ``runuser`` (``initdb`` refuses root). Where it cannot start:
  ``PostgresUnavailable(reason)``; ``postgres_unavailable()`` says the reason beforehand (or
  None), for a test's skip.
* ``start_server(url, port, *extra_args)``: ``python -m ida workbench serve`` on ``url`` and
  ``port``, once ``GET /api/health`` answers; ``stop_server(proc)`` kills it (SIGKILL, a
  crash, by default) and ``server_output(proc)`` is what it printed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    """A port on 127.0.0.1 that is free now (another process may take it before it is used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QueuePeople:
    """Scripted people answering every queued step of the database at ``url`` through the
    queue (no web server), in a thread: ``move(held)`` is the move they submit."""

    def __init__(self, url: str, move: Callable, name: str = "ada"):
        from ida.overseers.human.db import open_database
        from ida.overseers.human.people import add_person, person_by_token
        from ida.overseers.human.queue import StepQueue

        self.queue, self.move = StepQueue(open_database(url)), move
        self.me = person_by_token(self.queue.engine, add_person(self.queue.engine, name)).id
        self.answered, self.stop = 0, threading.Event()
        self.thread = threading.Thread(target=self.work, daemon=True)

    def work(self) -> None:
        while not self.stop.is_set():
            held = self.queue.claim(self.me)
            if held is None:
                time.sleep(0.002)
                continue
            self.queue.submit(self.me, held.assignment, held.fence, self.move(held))
            self.answered += 1

    def __enter__(self) -> QueuePeople:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


# PostgreSQL


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def postgres_bin() -> Path:
    """The directory of the newest installed PostgreSQL's programs."""
    found = []
    for directory in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            version = float(directory.parent.name)
        except ValueError:
            continue
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            found.append((version, directory))
    if found:
        return max(found)[1]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and (Path(pg_ctl).parent / "initdb").is_file():
        return Path(pg_ctl).parent
    raise PostgresUnavailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")


def postgres_unavailable() -> str | None:
    """Why a throwaway PostgreSQL cannot be started here, or None where it can be tried."""
    try:
        postgres_bin()
        _as_user()
        import psycopg  # noqa: F401
    except PostgresUnavailable as err:
        return err.reason
    except ImportError:
        return "psycopg is not installed (pip install 'ida[web]')"
    return None


def _as_user() -> list[str]:
    """The prefix that runs PostgreSQL's programs as a user other than root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no postgres user") from None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root and there is no runuser")
    return ["runuser", "-u", "postgres", "--"]


class Postgres:
    """A PostgreSQL server in a directory of its own (see ``throwaway_postgres``)."""

    def __init__(self, port: int | None = None):
        self.bin = postgres_bin()
        self.user = _as_user()
        self.port = port or free_port()
        base = "/tmp" if self.user and os.path.isdir("/tmp") else None  # postgres must reach it
        self.directory = Path(tempfile.mkdtemp(prefix="ida-pg-", dir=base))
        self.data, self.log = self.directory / "data", self.directory / "log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.running = False
        try:
            if self.user:
                pw = pwd.getpwnam("postgres")
                os.chown(self.directory, pw.pw_uid, pw.pw_gid)
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "--no-sync", "-E", "UTF8")  # fmt: skip
        except BaseException:
            self.cleanup()
            raise

    def _run(self, program: str, *args: str) -> None:
        command = [*self.user, str(self.bin / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{program} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
                + (f"\n{log}" if log else "")
            )

    def start(self) -> None:
        """Start the server (again, on the same data and port)."""
        options = (
            f"-k {self.directory} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean) or ``immediate`` (as if it crashed)."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"no stop mode {mode!r}")
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def new_database(self, name: str | None = None) -> str:
        """Create a database (``name``, or a fresh one) and return its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database, ending its connections."""
        import psycopg

        name = url_or_name.rsplit("/", 1)[-1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cleanup(self) -> None:
        """Stop the server if it runs and remove its directory."""
        if self.running:
            try:
                self.stop("immediate")
            except PostgresUnavailable:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def throwaway_postgres(port: int | None = None) -> Iterator[Postgres]:
    """A running throwaway PostgreSQL (``.url``), stopped and removed afterwards."""
    server = Postgres(port)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


# the workbench's server


class ServerError(RuntimeError):
    """The workbench's server did not come up."""


def start_server(url: str, port: int, *extra_args: str, timeout: float = 60.0):
    """``python -m ida workbench serve --db URL --port PORT EXTRA...``, returned once
    ``GET http://127.0.0.1:PORT/api/health`` answers 200; its output goes to a temporary file
    (``server_output``). A server that exits or does not answer in ``timeout`` seconds is a
    ``ServerError`` with its output."""
    log = tempfile.TemporaryFile()
    command = [sys.executable, "-m", "ida", "workbench", "serve", "--db", url,
               "--port", str(port), *map(str, extra_args)]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so stop_server ends any children
    )  # fmt: skip
    proc.log = log
    health = f"http://127.0.0.1:{port}/api/health"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            output = server_output(proc)
            log.close()
            raise ServerError(f"the server exited ({proc.returncode}) before answering:\n{output}")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise ServerError(
                f"the server did not answer {health} in {timeout:g} s:\n{server_output(proc)}"
            )
        time.sleep(0.1)


def server_output(proc) -> str:
    """What a server ``start_server`` started has printed so far (its last 20,000 chars)."""
    log = getattr(proc, "log", None)
    if log is None or log.closed:
        return ""
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-20000:]


def stop_server(proc, kill: bool = True, timeout: float = 10.0) -> int:
    """Stop a server ``start_server`` started: SIGKILL (a crash) by default, else SIGTERM
    (then SIGKILL after ``timeout``). Returns its exit status."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
