"""The question-answering domain's step view for the web workbench.

A step's context (facts rows, the question, the answered subquestions so far) becomes the texts
a person reads (``step_view``); a move sent back from the page or a scripted client is checked
against the task (``parse_move``): an answer in ``range(answer_size)``, or one or two
subquestions each of one of the task's question forms. Anything else is a ``QueueError`` with
status 422. ``TaskBench`` bundles both for one task, as ``Domain.workbench(task, size)`` gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import PAD, QuestionForm, Slot, Task, _is_token
from ida.overseers.human.protocol import Move, QueueError, form_int


def _question(task: Task, question: Sequence[int]) -> str:
    """The question as text (its raw tokens if the task cannot read it)."""
    try:
        return task.format_question(tuple(int(t) for t in question))
    except (IndexError, KeyError, ValueError, TypeError):
        return Task.format_question(task, tuple(question))


def _answer(task: Task, answer: int) -> str:
    try:
        return task.format_answer(int(answer))
    except (IndexError, KeyError, ValueError, TypeError):
        return str(answer)


def form_view(form: QuestionForm) -> dict[str, Any]:
    """A question form as the page builds its selects: fixed tokens and slots with options."""
    return {
        "name": form.name,
        "parts": [
            {"label": p.label, "options": [[int(t), text] for t, text in p.options]}
            if isinstance(p, Slot)
            else {"fixed": int(p)}
            for p in form.parts
        ],
    }


def step_view(task: Task, context: dict, static: bool = True) -> dict[str, Any]:
    """What the page shows of a step: the facts (PAD rows left out), the question, the answered
    subquestions with their answers, and (``static``) the answer choices and question forms."""
    facts = np.asarray(context["facts"], dtype=np.int64).reshape(-1, task.fact_len)
    view: dict[str, Any] = {
        "facts": [task.format_fact(row) for row in facts if (row != PAD).any()],
        "question": _question(task, context["question"]),
        "answered": [
            {"question": _question(task, q), "answer": _answer(task, a)}
            for q, a in context["answered"]
        ],
    }
    if static:
        view["choices"] = [[a, _answer(task, a)] for a in range(task.answer_size)]
        try:
            view["forms"] = [form_view(f) for f in task.question_forms()]
        except NotImplementedError:
            view["forms"] = []
    return view


def parse_move(task: Task, context: dict, payload: Any) -> Move:
    """``payload`` ({"answer": int} or {"ask": [[tokens], ...]}) as a move the task can take,
    else a ``QueueError`` (422) saying what is wrong."""
    if not isinstance(payload, dict) or len(payload) != 1 or not {"answer", "ask"} & set(payload):
        raise QueueError('a move is {"answer": N} or {"ask": [[tokens], ...]}', 422)
    if "answer" in payload:
        answer = payload["answer"]
        if not _is_token(answer):
            raise QueueError(f"an answer is an integer, got {answer!r:.40}", 422)
        if not 0 <= answer < task.answer_size:
            raise QueueError(f"answer {answer} is out of range 0..{task.answer_size - 1}", 422)
        return {"answer": int(answer)}
    if context.get("last"):
        raise QueueError("this is the last turn on this question: answer it", 422)
    asked = payload["ask"]
    if not isinstance(asked, list) or not 1 <= len(asked) <= 2:
        count = len(asked) if isinstance(asked, list) else "no list of"
        raise QueueError(f"ask one or two subquestions, not {count}", 422)
    questions = []
    for q in asked:
        if not isinstance(q, list):
            raise QueueError("a subquestion is a list of tokens", 422)
        try:
            questions.append([int(t) for t in task.check_question(q)])
        except (ValueError, NotImplementedError) as err:
            raise QueueError(str(err).splitlines()[0][:300], 422) from None
    if sorted(questions) == sorted(q for q, _ in context["answered"]):
        raise QueueError("these subquestions are answered already: combine their answers", 422)
    return {"ask": questions}


class TaskBench:
    """One task's step view, move parser and texts (the web app caches one per task and size)."""

    def __init__(self, task: Task):
        self.task = task
        self.view_static = step_view(task, {"facts": [], "question": [], "answered": []})

    def view(self, context: dict, static: bool = True) -> dict[str, Any]:
        view = step_view(self.task, context, static=False)
        if static:
            view.update(choices=self.view_static["choices"], forms=self.view_static["forms"])
        return view

    def parse_move(self, context: dict, payload: Any) -> Move:
        return parse_move(self.task, context, payload)

    def form_move(self, fields: dict) -> dict:
        """The move a work page's form asks for (checked by ``parse_move`` afterwards): an
        answer chosen, or one or two subquestions built from a question form's selects."""
        kind = fields.get("kind")
        if kind == "answer":
            return {"answer": form_int(fields, "answer")}
        if kind != "ask":
            raise QueueError("choose a move: answer, ask or combine", 422)
        asked = []
        for i in (1, 2):
            if fields.get(f"q{i}_form", "") in ("", "none"):
                continue
            form = form_int(fields, f"q{i}_form")
            slots = sorted(
                (int(name.rsplit("_s", 1)[1]), name)
                for name in fields
                if name.startswith(f"q{i}_f{form}_s") and name.rsplit("_s", 1)[1].isdigit()
            )
            asked.append(self.build_question(form, [form_int(fields, name) for _, name in slots]))
        return {"ask": asked}

    def build_question(self, form: int, choices: Sequence[int]) -> list[int]:
        """The question of the task's ``form``-th form with ``choices`` in its slots."""
        forms = self.task.question_forms()
        if not 0 <= form < len(forms):
            raise QueueError(f"no question form {form}", 422)
        try:
            return list(forms[form].build(list(choices)))
        except ValueError as err:
            raise QueueError(str(err), 422) from None

    def question(self, question: Sequence[int]) -> str:
        return _question(self.task, question)

    def answer(self, answer: int) -> str:
        return _answer(self.task, answer)

    def fact(self, row: Sequence[int]) -> str:
        return self.task.format_fact(np.asarray(row, dtype=np.int64))

    def audit(self, job: Any, seed: int = 0) -> Any:
        """``ida audit``'s table for a run's job (a rich renderable)."""
        from ida.domains.qa.show import render_audit

        return render_audit(job, level=None, seed=seed, limit=30, order="adversary")


def bench(task: str, size: int) -> TaskBench:
    """The ``TaskBench`` of ``task`` at ``size`` (``Domain.workbench``)."""
    return TaskBench(get_task(task, size))
