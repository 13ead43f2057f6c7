"""H as people at the workbench: every weak HCH step H takes becomes a task in the database
queue (``ida.overseers.human.queue``), and the tree waits on it through the engine while every
other tree goes on.

* ``TaskDesk`` is the trainer's end of the queue for one run (``ida.overseers.human.desk``),
  with the task's step contexts and the run's trees recorded for the tree viewer.
* ``HumanOverseer`` is the overseer the amplifier calls: weak HCH with people taking the steps,
  the model's answer to each question and the adversary's suspicion of it shown beside it
  (the suspicion orders the queue). It keeps H's transcript, for H' to learn from.

The database is opened on first use, so loading a run to evaluate or show it needs none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ida.core.engine import BatchFn, Call
from ida.core.errors import IdaError
from ida.domains.qa.tasks.base import (
    MAX_FAN_INS,
    Answered,
    Ask,
    Instance,
    Question,
    Step,
    Task,
    Transcript,
)
from ida.domains.qa.trace import Node
from ida.domains.qa.workbench import parse_move
from ida.overseers.human.desk import Desk


def move_of(step: Step) -> dict[str, Any]:
    """A weak HCH step as the queue stores it."""
    if isinstance(step, tuple):
        return {"ask": [[int(t) for t in q] for q in step]}
    return {"answer": int(step)}


def step_of(move: dict[str, Any]) -> Step:
    """The weak HCH step a recorded move stands for."""
    if "answer" in move:
        return int(move["answer"])
    return tuple(tuple(int(t) for t in q) for q in move["ask"])


class TaskDesk(Desk):
    """The workbench desk of a run on ``task`` (its steps' contexts are facts and token
    questions; the run's finished trees are recorded for the tree viewer)."""

    def __init__(self, task: Task, url: str, name: str, overlap: int = 1):
        super().__init__(task.name, task.size, url, name, overlap)
        self.task = task

    def context(
        self, inst: Instance, question: Question, answered: Answered, last: bool = False
    ) -> dict:
        from ida.overseers.human.protocol import context_of

        return context_of(inst.facts.tolist(), question, answered, last)

    def record(
        self, round_: int, insts: list[Instance], roots, trees: list[Node], who: dict
    ) -> None:
        """Write a round's finished trees for the tree viewer: every node with who answered
        it (a person's name, from ``who``: (instance id, question) -> name) and the truth."""
        task, slots = self.task, [slot for slot, _ in roots]

        def row_of(i: int, node: Node) -> dict:
            inst = insts[slots[i]]
            return {
                "question": [int(t) for t in node.question],
                "answer": int(node.answer),
                "truth": int(task.solve(inst, node.question)),
                "by": node.by,
                "person": who.get((id(inst), node.question)),
            }

        facts = [insts[slot].facts.tolist() for slot in slots]
        self.record_trees(round_, zip(facts, trees, strict=True), row_of)


class HumanOverseer:
    """Weak HCH whose steps people take at the workbench. ``answer`` and ``score`` are the
    model and the adversary as engine batch functions over (slot, question[, answer]) items
    (``score`` may be None); ``slots`` maps each instance (by identity) to its slot."""

    def __init__(
        self, desk: TaskDesk, answer: BatchFn, score: BatchFn | None, slots: dict[int, int]
    ):
        self.desk, self.task, self.answer, self.score, self.slots = (
            desk, desk.task, answer, score, slots
        )  # fmt: skip
        self.transcript: Transcript = []
        self.who: dict[tuple[int, Question], str | None] = {}  # who gave each node's answer

    async def shown(self, inst: Instance, question: Question) -> tuple[int, float | None]:
        """The model's answer to ``question`` and the adversary's suspicion of it, in [0, 1]."""
        slot = self.slots[id(inst)]
        (guess,) = await Call(self.answer, [(slot, question)])
        if self.score is None:
            return guess, None
        (adv,) = await Call(self.score, [(slot, question, guess)])
        return guess, float(min(1.0, max(0.0, -adv)))

    async def __call__(self, inst: Instance, question: Question, ask: Ask) -> int:
        from ida.overseers.human.protocol import Post

        task, desk = self.task, self.desk
        guess, suspicion = await self.shown(inst, question)
        level = task.level_of(inst, question)
        answered: Answered = ()
        for turn in range(MAX_FAN_INS + 1):
            context = desk.context(inst, question, answered, last=turn == MAX_FAN_INS)
            # a fan-in step was made ready by answer_subquestions; posting it again changes
            # nothing, but makes sure of it where the model answered differently this time
            (key,) = desk.post([Post(context, level, guess, suspicion)])
            move, who = await desk.wait(key)
            try:  # checked when it was made; a database edited by hand is caught here
                step = step_of(parse_move(task, context, move))
            except IdaError as err:
                raise IdaError(f"a recorded step on {question} in {desk.name}: {err}") from None
            self.transcript.append((inst, question, answered, step))
            if not isinstance(step, tuple):
                self.who[(id(inst), question)] = who
                return step
            answers = await ask.all(step)
            answered = tuple(zip(step, answers, strict=True))
            desk.answer_subquestions(key, [(int(a), "model") for a in answers])
        raise AssertionError("the last turn's step is an answer")  # parse_move saw to it


def exact_move(task: Task, context: dict) -> dict[str, Any]:
    """The move the task's exact H makes on a step, from what a person sees of it (the facts,
    the question, the answered subquestions): what scripted people answer."""
    inst = task.read_instance(np.asarray(context["facts"]))
    answered = tuple((tuple(q), int(a)) for q, a in context["answered"])
    return move_of(task.next_step(inst, tuple(context["question"]), answered))


def read_transcript(task: Task, path: str) -> Transcript:
    """H's steps on ``task`` from a workbench export, as a transcript H' can learn from (the
    instances rebuilt from their facts); steps of other tasks or sizes are left out, and a step
    the task cannot take is a one-line error naming its line."""
    from ida.overseers.human.export import read_steps

    transcript: Transcript = []
    for number, record in enumerate(read_steps(path), 1):
        if (record["task"], record["size"]) != (task.name, task.size):
            continue
        try:
            inst = task.read_instance(np.asarray(record["facts"]))
            question = task.check_question(record["question"])
            answered = tuple((task.check_question(q), int(a)) for q, a in record["answered"])
            context = {
                k: record[k] for k in ("facts", "question", "answered", "last") if k in record
            }
            step = step_of(parse_move(task, context, record["move"]))
        except (ValueError, TypeError, KeyError, IdaError) as err:
            raise IdaError(f"{path}: record {number} is not a step of {task.name}: {err}") from None
        transcript.append((inst, question, answered, step))
    if not transcript:
        raise IdaError(f"{path} holds no step of {task.name} at size {task.size}")
    return transcript
