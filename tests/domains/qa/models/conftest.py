"""What the model's tests share: a seeded tiny model for a task, a nudge that brings every
mechanism into play, and the model's variants."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ida.core.layers import Groups
from ida.domains.qa.models.mechanisms.base import Reading
from ida.domains.qa.models.transformer import ModelSettings, ModelShape, QAModel
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import PAD

# the model's optional mechanisms: every invariance holds with each of them
VARIANTS = {
    "plain": {},
    "sink": {"attention_sink": {}},
    "link_walk": {"link_walk": {"moves": 5}, "attention_sink": {}},
    "reach": {"reach": {"moves": 3}, "attention_sink": {}},
    "repeat": {"enc_repeat": 3},
    "computed": {"computed_tokens": {}, "enc_repeat": 2, "attention_sink": {}},
    "computed_answers": {"computed_tokens": {"from_slot": 1}, "computed_vocab": (3, 5)},
    "answer_match": {"answer_match": {}, "attention_sink": {}},
}


def tiny_model(task, computed_vocab: tuple[int, ...] = (), **settings) -> QAModel:
    """A seeded model for ``task`` in eval mode: d_model 32, 2 heads, ``settings`` on top."""
    torch.manual_seed(0)
    settings = ModelSettings(**{"d_model": 32, "n_heads": 2, **settings})
    shape = ModelShape(
        task.vocab_size,
        task.answer_size,
        task.fact_len,
        task.question_len,
        settings,
        computed_vocab,
    )
    return QAModel(shape).eval()


def nudge(module: torch.nn.Module, scale: float = 0.05) -> torch.nn.Module:
    """Every parameter moved off its start (seeded): the mechanisms that start neutral (zero
    weights, uniform mixtures) then change what the model computes, as after training."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return module


def read(model: QAModel, facts: torch.Tensor, questions: torch.Tensor) -> Reading:
    """What the decoder knows when the mechanisms' hooks read ``questions`` [B, question_len],
    all about the one instance ``facts`` [1, F, fact_len], built as ``QAModel.decode`` builds it
    (answer slot last, holding no token)."""
    memory = model.encode(facts)
    tokens = F.pad(questions, (0, 1))
    index = torch.zeros(len(questions), dtype=torch.long)
    match = (tokens[:, :, None, None] == facts[index][:, None]).float()
    match = match * (tokens != PAD)[:, :, None, None]
    groups = Groups(index, len(facts))
    return Reading(tokens, match, index, groups, False, memory.tables, model.sink)


@pytest.fixture
def model_for():
    """``tiny_model``: a seeded tiny model for a task."""
    return tiny_model


@pytest.fixture(params=VARIANTS.values(), ids=VARIANTS.keys())
def variant(request) -> dict:
    """Each variant's settings (and ``computed_vocab``) for ``model_for``."""
    return request.param


@pytest.fixture
def live():
    """``nudge``: every parameter moved off its start."""
    return nudge


@pytest.fixture
def reading_for():
    """``read``: a decoding's ``Reading`` of questions about one instance."""
    return read


@pytest.fixture
def asked():
    """shortest_path at size 8: three instances' facts [3, F, 2], and twelve (instance slot,
    question) items over them at every level."""
    task = get_task("shortest_path", 8)
    rng = np.random.default_rng(0)
    insts = [task.sample_instance(rng) for _ in range(3)]
    facts = torch.from_numpy(np.stack([i.facts for i in insts]))
    items = [
        (i % 3, task.sample_question(rng, insts[i % 3], i % task.num_levels)) for i in range(12)
    ]
    return task, facts, items
