"""The text domain's step view for the web workbench: people read the facts as sentences and
type their moves.

A step's context is the step itself (``protocol.make_step``: the sentences, the question, the
answered subquestions, ``last``). ``view`` is what the work page shows: the sentences, the
question, the answers so far, typed fields (``free_text``) and a few of the question forms the
domain reads. ``form_move`` reads the page's fields back as a move and ``parse_move`` checks
it with ``protocol.check_move``, the one judge of a move: an answer is one line, a
subquestion is a question of the domain's forms about an entity the facts name, with fewer
hops. Anything else is a ``QueueError`` (422) saying why, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from ida.domains.text.kb import TRAIN
from ida.domains.text.protocol import MAX_ANSWER_CHARS, MAX_ASKS, check_move
from ida.domains.text.questions import FRAMES, PHRASES
from ida.domains.text.script import ScriptedH
from ida.overseers.human.protocol import Move, QueueError

MAX_QUESTION_CHARS = 300
GIVE_UP = "I cannot tell"  # a scripted person's answer where the reader gives up


def examples() -> list[str]:
    """One question and one noun phrase of each relation, as people may type them ("…" for
    the name or phrase they are about)."""
    found = []
    for table in (FRAMES[TRAIN], PHRASES[TRAIN]):
        seen: set[str] = set()
        for template in table:
            if template.relation not in seen and not template.simple:
                seen.add(template.relation)
                found.append(template.text.replace("{x}", "…"))
    return found


class TextBench:
    """The text domain's view, form reader and move checker (one for every run of it)."""

    def __init__(self):
        self.examples = examples()

    def view(self, context: dict, static: bool = True) -> dict[str, Any]:
        view: dict[str, Any] = {
            "facts": list(context["facts"]),
            "question": context["question"],
            "answered": [{"question": q, "answer": a} for q, a in context["answered"]],
            "last": bool(context.get("last")),
        }
        if static:
            view.update(
                free_text=True,
                examples=self.examples,
                max_answer=MAX_ANSWER_CHARS,
                max_question=MAX_QUESTION_CHARS,
            )
        return view

    def form_move(self, fields: dict) -> dict:
        """The move a work page's form asks for: the typed answer, or the typed subquestions
        (the second may be left empty)."""
        kind = fields.get("kind")
        if kind == "answer":
            return {"answer": fields.get("answer", "")}
        if kind != "ask":
            raise QueueError("choose a move: answer, ask or combine", 422)
        asked = [fields.get(f"q{i}_text", "") for i in range(1, MAX_ASKS + 1)]
        return {"ask": [q.strip() for q in asked if isinstance(q, str) and q.strip()]}

    def parse_move(self, context: dict, payload: Any) -> Move:
        """``payload`` as a move at the step ``context``, stripped; else a ``QueueError``."""
        if isinstance(payload, dict) and isinstance(payload.get("ask"), list):
            if any(isinstance(q, str) and len(q) > MAX_QUESTION_CHARS for q in payload["ask"]):
                raise QueueError(f"a subquestion is over {MAX_QUESTION_CHARS} characters", 422)
        reason = check_move(context, payload)
        if reason is not None:
            raise QueueError(reason, 422)
        if "answer" in payload:
            return {"answer": payload["answer"].strip()}
        return {"ask": [" ".join(q.split()) for q in payload["ask"]]}

    def scripted_move(self, context: dict) -> Move:
        """The scripted reader's move at step ``context``, as a person would type it (where
        the reader gives up, an answer saying so): what scripted people answer."""
        return ScriptedH().move(context) or {"answer": GIVE_UP}

    def question(self, question: str) -> str:
        return question

    def answer(self, answer: Any) -> str:
        return str(answer)

    def fact(self, sentence: str) -> str:
        return sentence


def bench(task: str, size: int) -> TextBench:
    """The text domain's ``TextBench`` (``Domain.workbench``); the same for every size."""
    return TextBench()
