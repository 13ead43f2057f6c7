"""What the queue and those who answer its steps exchange, with nothing to import beyond the
core: a ``Move``, and the ``QueueError`` a refused request is."""

from __future__ import annotations

from typing import Any

from ida.core.errors import IdaError

Move = dict[str, Any]  # {"answer": int} or {"ask": [question, ...]} (a question: list of ints)


class QueueError(IdaError):
    """A request the queue refuses; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status
