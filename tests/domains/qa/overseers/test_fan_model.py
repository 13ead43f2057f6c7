"""The fan model H' learns with: swap symmetry built in, H's steps as targets, and a loss and
decoding that use only the parts of a step that exist."""

import dataclasses

import pytest
import torch
from torch.nn import functional as F

from ida.domains.qa.overseers.fan_model import (
    FanModel,
    decode_steps,
    encode_step,
    fan_loss,
    step_accuracy,
)
from ida.domains.qa.overseers.learned_overseer import transcript_steps
from ida.domains.qa.tasks import get_task
from ida.domains.qa.testing import small_shape

TASKS = ["permutation_powering", "shortest_path", "union_find", "wildcard_search"]


@pytest.mark.parametrize("relational", [True, False])
@pytest.mark.parametrize("name", TASKS)
def test_swapping_the_subquestions_leaves_fan_out_and_fan_in_unchanged(
    name, relational, transcripts
):
    """Every output of the fan model is unchanged when its two answered subquestions swap."""
    torch.manual_seed(0)
    task = get_task(name, 6)
    model = FanModel(dataclasses.replace(small_shape(task), relational=relational))
    steps = transcript_steps(task, transcripts(task))
    t = {k: torch.from_numpy(a) for k, a in steps.arrays().items()}
    index = torch.arange(len(steps))
    swapped = t["answered"].flip(1)
    assert not torch.equal(swapped, t["answered"])  # some steps do have two answered slots
    with torch.no_grad():
        out = model(t["facts"], t["questions"], t["answered"], index)
        out_swapped = model(t["facts"], t["questions"], swapped, index)
    for a, b in zip(out, out_swapped, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_steps_encode_subquestions_in_canonical_order():
    """A step's subquestions are encoded sorted, so either order gives one target."""
    a, b = (3, 4, 5), (1, 2, 9)
    kind, _, subs = encode_step((a, b), 3)
    kind2, _, subs2 = encode_step((b, a), 3)
    assert kind == kind2 == 2 and (subs == subs2).all() and tuple(subs[0]) == b
    assert encode_step(7, 3)[:2] == (0, 7)


def test_the_fan_loss_counts_only_the_parts_of_hs_steps_that_exist(transcripts):
    """Logits that put each of H's steps first give a loss near 0, exact step accuracy and the
    steps back when decoded, whatever the heads say that the step does not use (the answer of a
    step that asks, the tokens of a slot it leaves empty); forced to answer, every step does."""
    torch.manual_seed(0)
    task = get_task("sequential_assignments", 6)
    transcript = transcripts(task)
    steps = transcript_steps(task, transcript)
    kind, answer, subs = (torch.from_numpy(a) for a in (steps.kind, steps.answer, steps.subs))
    assert {0, 1, 2} <= set(kind.tolist())  # answers, one subquestion and two
    n, length = len(steps), task.question_len
    big = 30.0
    kind_logits = big * F.one_hot(kind, 3).float()
    answer_logits = 10 * torch.randn(n, task.answer_size)  # garbage where H asks
    answers = kind == 0
    answer_logits[answers] = big * F.one_hot(answer[answers], task.answer_size).float()
    token_logits = 10 * torch.randn(n, 2, length, task.vocab_size)  # garbage in empty slots
    for slot in range(2):
        used = kind > slot
        token_logits[used, slot] = big * F.one_hot(subs[used, slot], task.vocab_size).float()
    logits = (kind_logits, answer_logits, token_logits)
    assert fan_loss(logits, kind, answer, subs).item() < 1e-6
    assert step_accuracy(logits, kind, answer, subs).all()
    hs = [step if isinstance(step, int) else tuple(sorted(step)) for *_, step in transcript]
    assert decode_steps(logits, [False] * n) == hs
    forced = decode_steps(logits, [True] * n)
    assert all(isinstance(s, int) for s in forced)  # "last" forces an answer
    wrong = kind_logits.roll(1, dims=1)  # every step's kind mistaken
    assert fan_loss((wrong, answer_logits, token_logits), kind, answer, subs).item() > big / 2
    assert not step_accuracy((wrong, answer_logits, token_logits), kind, answer, subs).any()
