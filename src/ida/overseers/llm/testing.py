"""A small OpenAI-compatible server for tests and benchmarks, answering from a Python function.

    with serve(lambda messages, model, params: "ANSWER: Beth") as server:
        client = ChatClient(server.endpoint, "toy")

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (not streamed) on 127.0.0.1 (a
free port) from a thread. ``reply_fn(messages, model, params)`` returns the reply text, or a
``Fail(status)`` (an error status with an OpenAI-style body) or ``Raw(body)`` (a 200 whose body
is whatever bytes it is given); it may sleep to be slow. ``server.log`` records every request,
``server.calls`` counts chat completions, ``server.peak`` is the most served at once;
``usage`` counts words as tokens. A model
not in ``models`` gets OpenAI's 404 ``model_not_found``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ida.overseers.llm.prompts import LAST_TURN as LAST


@dataclass(frozen=True)
class Fail:
    """Answer with this HTTP status and an OpenAI-style error body."""

    status: int = 500
    message: str = "internal error"


@dataclass(frozen=True)
class Raw:
    """Answer 200 with exactly these bytes (malformed JSON, a wrong shape, ...)."""

    body: bytes


ReplyFn = Callable[[list[dict], str, dict[str, Any]], "str | Fail | Raw"]


def _words(text: str) -> int:
    return len(text.split())


class Server:
    """A running server: ``endpoint`` (``http://127.0.0.1:PORT/v1``), ``log``, ``calls``,
    ``peak``."""

    def __init__(self, reply_fn: ReplyFn, models: tuple[str, ...]):
        self.reply_fn, self.models = reply_fn, models
        self.log: list[dict[str, Any]] = []
        self.active = self.peak = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        """Chat-completion requests received."""
        with self.lock:
            return sum(entry["path"].endswith("/chat/completions") for entry in self.log)


def _error(status: int, message: str, kind: str, code: str | None = None) -> tuple[int, bytes]:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return status, json.dumps(body).encode()


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with server.lock:
                server.log.append({"path": self.path, "time": time.time()})
            if self.path.rstrip("/") != "/v1/models":
                self._send(*_error(404, f"no route {self.path}", "invalid_request_error"))
                return
            data = [{"id": name, "object": "model", "owned_by": "test"} for name in server.models]
            self._send(200, json.dumps({"object": "list", "data": data}).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length))
            except ValueError:
                self._send(*_error(400, "body is not JSON", "invalid_request_error"))
                return
            model = request.get("model", "")
            messages = request.get("messages", [])
            params = {k: v for k, v in request.items() if k not in ("model", "messages")}
            with server.lock:
                server.log.append(
                    {
                        "path": self.path,
                        "model": model,
                        "messages": messages,
                        "params": params,
                        "time": time.time(),
                    }
                )
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(*_error(404, f"no route {self.path}", "invalid_request_error"))
                return
            if model not in server.models:
                message = f"The model `{model}` does not exist or you do not have access to it."
                self._send(*_error(404, message, "invalid_request_error", "model_not_found"))
                return
            with server.lock:
                server.active += 1
                server.peak = max(server.peak, server.active)
            try:
                reply = server.reply_fn(messages, model, params)
            except Exception as error:  # a broken reply_fn is a 500, as a real server's would be
                reply = Fail(500, f"{type(error).__name__}: {error}")
            finally:
                with server.lock:
                    server.active -= 1
            if isinstance(reply, Fail):
                self._send(*_error(reply.status, reply.message, "server_error"))
            elif isinstance(reply, Raw):
                self._send(200, reply.body)
            else:
                prompt = sum(_words(str(m.get("content", ""))) for m in messages)
                body = {
                    "id": f"chatcmpl-{len(server.log)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": _words(reply),
                        "total_tokens": prompt + _words(reply),
                    },
                }
                self._send(200, json.dumps(body).encode())

    return Handler


@contextmanager
def serve(reply_fn: ReplyFn, models: tuple[str, ...] = ("toy",)) -> Iterator[Server]:
    """Serve ``reply_fn`` as ``models`` until the block ends."""
    server = Server(reply_fn, models)
    thread = threading.Thread(
        target=server.httpd.serve_forever, args=(0.05,), daemon=True, name="llm-serve"
    )
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join()


def read_step(text: str) -> dict:
    """The step a user turn of ``prompts.render_step`` shows (its facts, question, answered
    subquestions and whether it is the last turn): what a stand-in model reads."""
    facts, answered, question, section = [], [], "", None
    for line in text.splitlines():
        if line == "Facts:":
            section = "facts"
        elif line.startswith("Question: "):
            question, section = line[len("Question: ") :], None
        elif line.startswith("Answered so far:"):
            section = "answered"
        elif line.startswith("- ") and section == "facts":
            facts.append(line[2:])
        elif line.startswith("- ") and section == "answered":
            sub, _, answer = line[2:].rpartition(" -> ")
            answered.append([sub, answer])
    return {"facts": facts, "question": question, "answered": answered, "last": LAST in text}


def moves_by(overseer: Any) -> ReplyFn:
    """A reply function that makes ``overseer``'s move (``overseer.move(step)``) on the step
    in the last user turn, as a one-line reply: a scripted H behind an endpoint."""
    from ida.overseers.llm.prompts import render_move

    def reply(messages: list[dict], model: str, params: dict) -> str:
        move = overseer.move(read_step(messages[-1]["content"]))
        return "I cannot tell." if move is None else render_move(move)

    return reply
