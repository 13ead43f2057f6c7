"""Instances and questions as the model reads them: sampling a question of a given number of
hops, the token arrays of a round (``Rows``), the held-out sets, and the model as the engine's
batch function (``Answerer``: (instance slot, question text) -> answer text)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ida.core.replay import Arrays
from ida.domains.text.kb import (
    CITY,
    COMPANY,
    COUNTRY,
    PERSON,
    RELATIONS,
    World,
    num_facts,
    sample_world,
    tell,
)
from ida.domains.text.model import TextModel
from ida.domains.text.questions import Query, render
from ida.domains.text.words import ANSWER_LEN, FACT_LEN, PAD, QUESTION_LEN, vocab

REACH = {PERSON: 99, COMPANY: 2, CITY: 1, COUNTRY: 0}  # the longest chain from each type


def sample_query(world: World, hops: int, rng: np.random.Generator) -> Query:
    """A chain of ``hops`` relations from a random entity (of a type whose chains are that
    long), each relation drawn uniformly among those that can still go on long enough."""
    kinds = [k for k, reach in REACH.items() if reach >= hops]
    kind = kinds[int(rng.integers(len(kinds)))]
    start = world.entities[kind][int(rng.integers(len(world.entities[kind])))]
    relations: list[str] = []
    for left in range(hops, 0, -1):
        options = [
            r.name for r in RELATIONS.values() if r.subject == kind and REACH[r.object] >= left - 1
        ]
        name = options[int(rng.integers(len(options)))]
        relations.append(name)
        kind = RELATIONS[name].object
    return Query(start, tuple(relations))


def fact_rows(facts: list[str], people: int) -> np.ndarray:
    """An instance's sentences as tokens [num_facts, FACT_LEN]."""
    out = np.full((num_facts(people), FACT_LEN), PAD, dtype=np.int64)
    for i, sentence in enumerate(facts):
        out[i] = vocab().row(sentence, FACT_LEN)
    return out


def question_rows(texts: list[str]) -> np.ndarray:
    """Questions as tokens [n, QUESTION_LEN], padded on the left."""
    v = vocab()
    return np.stack([v.row(t, QUESTION_LEN, left=True) for t in texts]).reshape(-1, QUESTION_LEN)


def trim(questions: torch.Tensor) -> torch.Tensor:
    """Left-padded questions without the columns that are padding in every row."""
    used = (questions != PAD).any(0).nonzero()
    return questions[:, int(used.min()) :] if len(used) else questions[:, -1:]


@dataclass
class Rows(Arrays):
    """Questions with their target answers, instance-major: facts [I, F, FACT_LEN],
    questions [I, Q, QUESTION_LEN], targets [I, Q, ANSWER_LEN] (all PAD: no target),
    levels [I, Q] (hops - 1)."""

    facts: np.ndarray
    questions: np.ndarray
    targets: np.ndarray
    levels: np.ndarray

    def tensors(self, device) -> tuple[torch.Tensor, ...]:
        """facts, the questions [I * Q, ...], targets [I * Q, ...], and each one's instance."""
        n, q = self.levels.shape
        index = torch.arange(n, device=device).repeat_interleave(q)
        return (
            torch.from_numpy(self.facts).to(device),
            trim(torch.from_numpy(self.questions.reshape(n * q, -1)).to(device)),
            torch.from_numpy(self.targets.reshape(n * q, -1)).to(device),
            index,
        )


def heldout_set(
    people: int,
    levels: int,
    per_level: int,
    templates: str,
    rng: np.random.Generator,
    per_instance: int = 8,
) -> Rows:
    """Fresh instances told in ``templates`` (TRAIN or HELD_OUT), ``per_level`` questions of
    every level in the same templates, with their true answers."""
    per_instance = min(per_instance, per_level)
    n = -(-per_level // per_instance)
    facts, questions, targets, lv = [], [], [], []
    for level in range(levels):
        for _ in range(n):
            world = sample_world(rng, people)
            facts.append(fact_rows(tell(world, rng, templates), people))
            queries = [sample_query(world, level + 1, rng) for _ in range(per_instance)]
            questions.append(question_rows([render(q, templates, rng) for q in queries]))
            targets.append(
                np.stack([vocab().answer_row(world.follow(q.entity, q.relations)) for q in queries])
            )
            lv.append(np.full(per_instance, level))
    return Rows(np.stack(facts), np.stack(questions), np.stack(targets), np.stack(lv))


class Answerer:
    """The model as a batch function: (instance slot, question text) -> answer text. Encodes
    the instances' facts once, on construction, for all their questions."""

    def __init__(self, model: TextModel, facts: torch.Tensor):
        self.model, self.device = model, facts.device
        with torch.inference_mode():
            self.memory = model.encode(facts)

    def rows(self, items: list[tuple[int, str]]) -> np.ndarray:
        """Greedy answers as tokens [len(items), ANSWER_LEN] (words, END, PAD)."""
        if not items:
            return np.zeros((0, ANSWER_LEN), dtype=np.int64)
        slots = torch.tensor([slot for slot, _ in items], device=self.device)
        questions = torch.from_numpy(question_rows([text for _, text in items])).to(self.device)
        return self.model.generate(self.memory, slots, trim(questions)).cpu().numpy()

    def __call__(self, items: list[tuple[int, str]]) -> list[str]:
        return [vocab().decode(row) for row in self.rows(items)]
