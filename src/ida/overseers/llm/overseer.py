"""A language model behind an endpoint as the overseer H (``LLMOverseer``) or as the model A
(``LLMAnswerer``).

``moves(steps)`` asks the model about every step at once (concurrent requests). A reply that is
not a valid move is retried, up to ``tries`` requests per step, by appending the rejected reply
and a user turn saying why it was rejected: the retry is a new request (a new cache key) that a
deterministic (temperature 0) model answers differently, since its prompt differs, and a rerun
replays the same conversation from the cache. A step still without a valid move gets None and
counts as an ``overseer_failures``; a bad reply never raises.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ida.overseers.llm.client import ChatClient, Messages, Reply, Sampling
from ida.overseers.llm.parse import MAX_CHARS, CheckMove, Invalid, check_reply, parse_answer
from ida.overseers.llm.prompts import (
    ANSWER_RETRY,
    ANSWERER_SYSTEM,
    OVERSEER_SYSTEM,
    RETRY,
    Move,
    Step,
    answerer_messages,
    overseer_messages,
    retry_turns,
)

# One line, so the model stops at its end: a 135M model goes on writing otherwise.
ONE_LINE = Sampling(temperature=0.0, max_tokens=64, stop=("\n",))


def _tally(counts: Counter, reply: Reply) -> None:
    counts.update(
        requests=1,
        cache_hits=int(reply.cached),
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        seconds=0.0 if reply.cached else reply.seconds,
    )


class _Retrying:
    """What the overseer and the answerer share: conversations retried until their reply parses."""

    def __init__(self, client: ChatClient, tries: int, sampling: Sampling | None, template: str):
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.client, self.tries, self.template = client, tries, template
        self.sampling = sampling or ONE_LINE
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()  # every rejection's one-line detail

    def _run(self, conversations: list[Messages], judge) -> list:
        """``judge(i, text)`` -> a value or an Invalid; None where every try was invalid."""
        results: list = [None] * len(conversations)
        pending = list(range(len(conversations)))
        for attempt in range(self.tries):
            if not pending:
                break
            replies = self.client.complete([conversations[i] for i in pending], self.sampling)
            retry = []
            for i, reply in zip(pending, replies, strict=True):
                _tally(self.counts, reply)
                if reply.error is not None:
                    self.counts["endpoint_errors"] += 1
                    self.reasons[f"endpoint: {reply.error}"] += 1
                    retry.append(i)
                    continue
                verdict = judge(i, reply.text)
                if isinstance(verdict, Invalid):
                    self.counts["invalid"] += 1
                    self.counts[f"invalid: {verdict.kind}"] += 1
                    self.reasons[f"{verdict.kind}: {verdict.detail}"] += 1
                    conversations[i] = conversations[i] + retry_turns(
                        reply.text, verdict.detail, self.template
                    )
                    retry.append(i)
                else:
                    results[i] = verdict
                    self.counts["first_try" if attempt == 0 else "after_retry"] += 1
            pending = retry
        return results


class LLMOverseer(_Retrying):
    """H as a language model: ``moves(steps)`` -> a move per step, or None after ``tries``.

    ``examples``: (step, move) pairs shown as earlier turns; ``check_move(step, move)``: the
    domain's verdict (None if valid, else a one-line reason). ``counts``: steps, moves, answers,
    asks, requests, cache_hits, prompt_tokens, completion_tokens, seconds, first_try,
    after_retry, invalid, ``invalid: <kind>``, endpoint_errors, overseer_failures."""

    def __init__(
        self,
        client: ChatClient,
        examples: Sequence[tuple[Step, Move]],
        check_move: CheckMove | None = None,
        *,
        tries: int = 3,
        sampling: Sampling | None = None,
        system: str = OVERSEER_SYSTEM,
        max_chars: int = MAX_CHARS,
    ):
        super().__init__(client, tries, sampling, RETRY)
        self.examples, self.check_move = list(examples), check_move
        self.system, self.max_chars = system, max_chars

    def messages(self, step: Step) -> Messages:
        """The first request for ``step``."""
        return overseer_messages(step, self.examples, self.system)

    def moves(self, steps: list[Step]) -> list[Move | None]:
        def judge(i: int, text: str | None) -> Move | Invalid:
            return check_reply(steps[i], text, self.check_move, self.max_chars)

        moves = self._run([self.messages(step) for step in steps], judge)
        for move in moves:
            if move is None:
                self.counts["overseer_failures"] += 1
            else:
                self.counts["moves"] += 1
                self.counts["answers" if "answer" in move else "asks"] += 1
        self.counts["steps"] += len(steps)
        return moves


class LLMAnswerer(_Retrying):
    """The model A as a language model: ``answers([(facts, question)])`` -> answer texts.

    ``examples``: (facts, question, answer) triples shown as earlier turns. A question still
    without an ``ANSWER:`` line after ``tries`` gets ``failed`` (default "") and counts as an
    ``answerer_failures``; ``counts`` are otherwise the overseer's."""

    def __init__(
        self,
        client: ChatClient,
        examples: Sequence[tuple[Sequence[str], str, str]] = (),
        *,
        tries: int = 2,
        sampling: Sampling | None = None,
        system: str = ANSWERER_SYSTEM,
        max_chars: int = MAX_CHARS,
        failed: str = "",
    ):
        super().__init__(client, tries, sampling, ANSWER_RETRY)
        self.examples, self.system = list(examples), system
        self.max_chars, self.failed = max_chars, failed

    def messages(self, facts: Sequence[str], question: str) -> Messages:
        return answerer_messages(facts, question, self.examples, self.system)

    def answers(self, items: list[tuple[list[str], str]]) -> list[str]:
        conversations = [self.messages(facts, question) for facts, question in items]
        answers = self._run(conversations, lambda i, text: parse_answer(text, self.max_chars))
        self.counts["questions"] += len(items)
        failures = sum(answer is None for answer in answers)
        self.counts["answerer_failures"] += failures
        return [self.failed if answer is None else answer for answer in answers]
