"""A client for an OpenAI-compatible endpoint's chat completions (``POST .../chat/completions``).

``complete(requests)`` sends a batch of conversations at once, up to ``concurrency`` at a time
(threads), each with a socket ``timeout``; connection errors, timeouts, 429 and 5xx are retried
with exponential backoff (``retries`` times), then the request's ``Reply`` carries the error
instead of text, and is counted, so one bad request loses nothing else in the batch. What no
retry can mend (a model the server does not have, a refused request, an endpoint nobody
listens on) raises ``EndpointError``, one line. Every reply is cached on disk when a ``cache``
is given, so a rerun costs no endpoint call. Standard library only.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ida.core.errors import IdaError
from ida.overseers.llm.cache import Cache, request_key

Messages = list[dict[str, str]]  # [{"role": "system" | "user" | "assistant", "content": str}]


class EndpointError(IdaError):
    """The endpoint cannot serve these requests at all: unreachable, or it refuses the model."""


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters sent with every request (and part of every cache key)."""

    temperature: float = 0.0
    max_tokens: int = 64
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
        }
        if self.seed is not None:
            params["seed"] = self.seed
        if self.stop:
            params["stop"] = list(self.stop)
        return params


@dataclass
class Reply:
    """One completion: ``text``, or None with ``error`` saying why no reply came."""

    text: str | None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False


class _Transient(Exception):
    """A failed attempt worth retrying; ``kind`` is counted."""

    def __init__(self, message: str, kind: str, wait: float | None = None):
        super().__init__(message)
        self.kind, self.wait = kind, wait


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_message(body: bytes) -> str:
    """The message of an OpenAI-style error body, else the body itself."""
    try:
        error = json.loads(body).get("error", body.decode(errors="replace"))
        if isinstance(error, dict):
            error = error.get("message", error)
        return _one_line(error)
    except (ValueError, AttributeError):
        return _one_line(body.decode(errors="replace"))


class ChatClient:
    """Chat completions from ``model`` at ``endpoint`` (e.g. ``http://127.0.0.1:8080/v1``).

    ``counts``: calls (HTTP requests sent, retries included), retries, cache_hits, replies,
    errors (requests with no reply after the retries), http_errors (failed attempts),
    timeouts, prompt_tokens, completion_tokens, seconds (summed latency of the calls)."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        sampling: Sampling | None = None,
        concurrency: int = 4,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        cache: Cache | str | Path | None = None,
        api_key: str | None = None,
    ):
        if concurrency < 1 or retries < 0 or timeout <= 0:
            raise IdaError("concurrency must be >= 1, retries >= 0 and timeout > 0")
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.sampling = sampling or Sampling()
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.cache = Cache(cache) if isinstance(cache, str | Path) else cache
        self.api_key = api_key
        self.counts: Counter = Counter()
        self._lock = threading.Lock()

    def _count(self, **deltas: float) -> None:
        with self._lock:
            self.counts.update(deltas)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def check(self) -> list[str]:
        """Raise ``EndpointError`` unless the endpoint answers ``GET /models`` and lists the
        model; returns the models it serves (empty where the server has no ``/models``)."""
        request = urllib.request.Request(f"{self.endpoint}/models", headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 30.0)) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise EndpointError(
                f"{self.endpoint}/models answered {error.code}: {_error_message(error.read())}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise EndpointError(f"cannot reach {self.endpoint}: {_one_line(reason)}") from None
        try:
            served = [str(entry["id"]) for entry in json.loads(body)["data"]]
        except (ValueError, KeyError, TypeError):
            raise EndpointError(f"{self.endpoint}/models: not an OpenAI model list") from None
        if self.model not in served:
            raise EndpointError(
                f"model {self.model!r} is not served at {self.endpoint}; "
                f"it serves: {', '.join(served) or 'nothing'}"
            )
        return served

    def key(self, messages: Messages, sampling: Sampling | None = None) -> str:
        """The cache key of a request."""
        params = (sampling or self.sampling).params()
        return request_key(self.endpoint, self.model, messages, params)

    def complete(self, requests: list[Messages], sampling: Sampling | None = None) -> list[Reply]:
        """A reply per conversation, in order; identical requests are sent once."""
        sampling = sampling or self.sampling
        keys = [self.key(messages, sampling) for messages in requests]
        replies: dict[str, Reply] = {}
        todo: dict[str, Messages] = {}
        for key, messages in zip(keys, requests, strict=True):
            if key in replies or key in todo:
                continue
            stored = self.cache.get(key) if self.cache is not None else None
            if stored is not None:
                replies[key] = Reply(**{**stored, "cached": True})
                self._count(cache_hits=1)
            else:
                todo[key] = messages
        if todo:
            fatal: list[EndpointError] = []
            workers = min(self.concurrency, len(todo))
            with ThreadPoolExecutor(workers, thread_name_prefix="llm") as pool:
                futures = {
                    key: pool.submit(self._request, messages, sampling)
                    for key, messages in todo.items()
                }
                for key, future in futures.items():
                    if future.cancelled():
                        continue
                    try:
                        replies[key] = reply = future.result()
                    except EndpointError as error:  # fatal: send nothing more
                        fatal.append(error)
                        for other in futures.values():
                            other.cancel()
                        continue
                    if reply.error is None and self.cache is not None:
                        self.cache.put(key, asdict(reply))
            if fatal:
                raise fatal[0]
        return [replies[key] for key in keys]

    def _request(self, messages: Messages, sampling: Sampling) -> Reply:
        """One request with its retries; a Reply with ``error`` once they are spent."""
        body = json.dumps({"model": self.model, "messages": messages, **sampling.params()})
        last = ""
        refused = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self._count(retries=1)
            start = time.perf_counter()
            try:
                reply = self._post(body.encode())
            except _Transient as error:
                self._count(calls=1, http_errors=1, seconds=time.perf_counter() - start)
                if error.kind == "timeout":
                    self._count(timeouts=1)
                refused += error.kind == "refused"
                last = str(error)
                if attempt < self.retries:
                    wait = self.backoff * 2**attempt * random.uniform(0.75, 1.25)
                    time.sleep(min(self.max_backoff, error.wait or wait))
                continue
            except EndpointError:
                self._count(calls=1, http_errors=1, seconds=time.perf_counter() - start)
                raise
            reply.seconds = time.perf_counter() - start
            self._count(
                calls=1,
                replies=1,
                seconds=reply.seconds,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
            )
            return reply
        if refused == self.retries + 1:
            raise EndpointError(f"cannot reach {self.endpoint}: {last}")
        self._count(errors=1)
        return Reply(text=None, error=last)

    def _post(self, data: bytes) -> Reply:
        """One attempt: a Reply, or ``_Transient``/``EndpointError``."""
        url = f"{self.endpoint}/chat/completions"
        request = urllib.request.Request(url, data=data, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            message = f"HTTP {error.code}: {_error_message(error.read())}"
            if error.code in (408, 429) or error.code >= 500:
                after = error.headers.get("Retry-After") if error.headers else None
                wait = float(after) if after and after.isdigit() else None
                raise _Transient(message, "status", wait) from None
            raise EndpointError(f"{url} refused the request ({message})") from None
        except TimeoutError:
            raise _Transient(f"timed out after {self.timeout:g} s", "timeout") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _Transient(f"timed out after {self.timeout:g} s", "timeout") from None
            kind = "refused" if isinstance(error.reason, ConnectionRefusedError) else "network"
            raise _Transient(_one_line(error.reason), kind) from None
        except (OSError, http.client.HTTPException) as error:
            raise _Transient(_one_line(repr(error)), "network") from None
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Transient("malformed response: not a chat completion", "malformed") from None
        usage = payload.get("usage") or {}
        return Reply(
            text=text,
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
