"""The learned overseer H': an imitation of H's fan-out/fan-in, trained on H's transcripts.

* ``Transcribing`` is the exact H, recording every weak HCH step it takes.
* ``LearnedOverseer`` distils those steps into a ``FanModel``: a replay buffer of steps, its
  own optimizer, and a validation set of held-out steps (its accuracy says when H' is ready).
* ``FanOverseer`` is H' as an overseer: weak HCH with the ``FanModel`` choosing every step, its
  calls batched by the engine. It never consults H.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ida.core.engine import BatchFn, Call
from ida.core.learner import Learner
from ida.core.replay import Arrays, ReplayBuffer
from ida.domains.qa.models.answerer import item_tensors
from ida.domains.qa.models.transformer import ModelShape
from ida.domains.qa.overseers.fan_model import (
    FanModel,
    decode_steps,
    encode_answered,
    encode_step,
    fan_loss,
    step_accuracy,
)
from ida.domains.qa.tasks.base import (
    Answered,
    Ask,
    Instance,
    Question,
    Step,
    Task,
    Transcript,
    weak_hch,
)


@dataclass
class Steps(Arrays):
    """H's recorded steps as arrays: the question's level [N], facts [N, F, fact_len], questions
    [N, L], answered [N, 2, L + 1], and the step taken: kind, answer [N] and subquestion tokens
    [N, 2, L]."""

    level: np.ndarray
    facts: np.ndarray
    questions: np.ndarray
    answered: np.ndarray
    kind: np.ndarray
    answer: np.ndarray
    subs: np.ndarray

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(a).to(device) for k, a in self.arrays().items()}


def transcript_steps(task: Task, transcript: Transcript) -> Steps:
    """``Steps`` arrays for the (instance, question, answered, step) records of a transcript."""
    length = task.question_len
    encoded = [encode_step(step, length) for *_, step in transcript]
    return Steps(
        level=np.asarray([task.level_of(inst, q) for inst, q, *_ in transcript], dtype=np.int64),
        facts=np.stack([inst.facts for inst, *_ in transcript]),
        questions=np.asarray([q for _, q, *_ in transcript], dtype=np.int64),
        answered=np.stack(
            [encode_answered(a, length, task.answer_size) for _, _, a, _ in transcript]
        ),
        kind=np.asarray([e[0] for e in encoded], dtype=np.int64),
        answer=np.asarray([e[1] for e in encoded], dtype=np.int64),
        subs=np.stack([e[2] for e in encoded]),
    )


class Transcribing:
    """The exact H, appending each weak HCH step it takes to ``transcript``."""

    def __init__(self, task: Task):
        self.task = task
        self.transcript: Transcript = []

    async def __call__(self, inst: Instance, question: Question, ask: Ask) -> int:
        return await weak_hch(self.task, inst, question, ask, record=self.transcript)


class BatchedFan:
    """Engine batch function for H': (instance slot, question, answered, last) -> a step.

    Encodes the instances' facts once, on construction."""

    def __init__(self, model: FanModel, facts: torch.Tensor):
        self.model, self.device = model, facts.device
        with torch.inference_mode():
            self.memory = model.net.encode(facts)

    def __call__(self, items: list[tuple]) -> list[Step]:
        model, length = self.model, self.model.shape.question_len
        none = model.shape.answer_size
        slots, questions = item_tensors(items, self.device)
        answered = torch.from_numpy(
            np.stack([encode_answered(item[2], length, none) for item in items])
        ).to(self.device)
        with torch.inference_mode():
            logits = model.logits(model.net.select(self.memory, slots), questions, answered)
        return decode_steps(logits, [item[3] for item in items])


class FanOverseer:
    """H' as an overseer: weak HCH whose every step the learned fan model takes. ``slots`` maps
    each instance (by identity) to its row of the facts ``fan`` was built on."""

    def __init__(self, task: Task, fan: BatchFn, slots: dict[int, int]):
        self.task, self.fan, self.slots = task, fan, slots

    async def step(self, inst: Instance, question: Question, answered: Answered, last: bool):
        (step,) = await Call(self.fan, [(self.slots[id(inst)], question, answered, last)])
        return step

    async def __call__(self, inst: Instance, question: Question, ask: Ask) -> int:
        return await weak_hch(self.task, inst, question, ask, fan=self.step)


class LearnedOverseer:
    """Trains H' (a ``FanModel``) on H's steps. Every eighth step H takes is held out, never
    trained on, in a store per question level; ``accuracy[level]`` is H''s exact-step accuracy
    on that level's held-out steps (0 until it has ``min_held`` of them), measured after each
    round's training, and H' is ``trusted`` at a level once that reaches ``trust``. It trains
    ``steps_per_round`` gradient steps a round (``learn``)."""

    def __init__(
        self,
        task: Task,
        shape: ModelShape,
        device: torch.device,
        lr: float = 1e-3,
        trust: float = 0.98,
        capacity: int = 32768,
        held_per_level: int = 256,
        min_held: int = 64,
        batch: int = 256,
        steps_per_round: int = 1,
    ):
        self.task, self.device, self.batch, self.min_held = task, device, batch, min_held
        self.trust, self.steps_per_round = trust, steps_per_round
        self.model = FanModel(shape).to(device)
        self.learner = Learner(self.model, lr)
        self.buffer = ReplayBuffer(capacity, Steps)
        self.held_out = [ReplayBuffer(held_per_level, Steps) for _ in range(task.num_levels)]
        self.accuracy = np.zeros(task.num_levels)
        self.loss = float("nan")

    @property
    def trusted(self) -> np.ndarray:
        """Per question level: whether H' may stand in for H there."""
        return self.accuracy >= self.trust

    def _logits(self, t: dict[str, torch.Tensor]):
        index = torch.arange(len(t["questions"]), device=self.device)
        return self.model(t["facts"], t["questions"], t["answered"], index)

    @torch.no_grad()
    def validate(self, steps: Steps) -> tuple[float, np.ndarray]:
        """H''s loss on ``steps`` and, per step, whether it takes exactly H's step."""
        t = steps.tensors(self.device)
        logits, truth = self._logits(t), (t["kind"], t["answer"], t["subs"])
        return fan_loss(logits, *truth).item(), step_accuracy(logits, *truth).cpu().numpy()

    def add(self, steps: Steps) -> None:
        """Store fresh H steps: every eighth one held out, the rest to train on."""
        held = np.arange(len(steps)) % 8 == 0
        for level, store in enumerate(self.held_out):
            store.add(steps.rows(held & (steps.level == level)))
        self.buffer.add(steps.rows(~held))

    def train(self, steps: int, rng: np.random.Generator) -> None:
        """``steps`` gradient steps on replayed H steps, then validate on the held-out ones."""
        if not self.buffer.size:
            return
        for _ in range(steps):
            t = self.buffer.sample(rng, self.batch).tensors(self.device)
            self.learner.step(fan_loss(self._logits(t), t["kind"], t["answer"], t["subs"]))
        held = Steps.cat([store.stored() for store in self.held_out if store.size])
        self.loss, right = self.validate(held)
        for level in range(len(self.accuracy)):
            mine = right[held.level == level]
            self.accuracy[level] = mine.mean() if len(mine) >= self.min_held else 0.0

    def add_transcript(self, transcript: Transcript) -> None:
        """Store H's steps from a transcript (held-out share as ``add``)."""
        if transcript:
            self.add(transcript_steps(self.task, transcript))

    def learn(self, transcript: Transcript, rng: np.random.Generator) -> None:
        """A round's learning: store the steps H took (``transcript``), then train
        ``steps_per_round`` steps (also when H took none)."""
        self.add_transcript(transcript)
        self.train(self.steps_per_round, rng)

    def overseer(self, insts: list[Instance]) -> FanOverseer:
        """H' for one round's ``insts`` (their facts encoded once)."""
        facts = torch.from_numpy(np.stack([inst.facts for inst in insts])).to(self.device)
        fan = BatchedFan(self.model, facts)
        return FanOverseer(self.task, fan, {id(inst): i for i, inst in enumerate(insts)})

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "learner": self.learner.state_dict(),
            "buffer": self.buffer.state_dict(),
            "held_out": [store.state_dict() for store in self.held_out],
            "accuracy": self.accuracy,
            "loss": self.loss,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.learner.load_state_dict(state["learner"])
        self.buffer.load_state_dict(state["buffer"])
        for store, saved in zip(self.held_out, state["held_out"], strict=True):
            store.load_state_dict(saved)
        self.accuracy, self.loss = np.asarray(state["accuracy"]), state["loss"]
