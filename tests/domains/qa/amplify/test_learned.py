"""Amplify(H', A) on a budget: H decomposes the questions its paced allowance covers, H' the
ones at levels where it is trusted; the rest get no target."""

import numpy as np
import pytest
import torch

from ida.domains.qa.amplify.learned import LearnedOverseerAmplifier
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer
from ida.domains.qa.tasks import get_task
from ida.domains.qa.testing import small_round, small_shape
from ida.domains.qa.trace import LEARNED, overseer_calls


def learned(task, budget, rounds=10, **kwargs):
    torch.manual_seed(0)
    imitation = LearnedOverseer(task, small_shape(task), torch.device("cpu"))
    return LearnedOverseerAmplifier(
        task,
        **small_round(task),
        learned_overseer=imitation,
        human_budget=budget,
        rounds=rounds,
        **kwargs,
    )


def judged_by(amp, work):
    """Per root of ``work``: whether H decomposes it, and whether H' does."""
    to_h = np.zeros(len(work.roots), dtype=bool)
    to_h[work.judged] = work.extra["to_h"]
    return to_h, work.judged & ~to_h


def test_the_budget_on_h_is_paced_and_never_exceeded():
    """While H' is trusted nowhere, a round's judged questions are exactly the first ones that
    fit its allowance, min(left, ceil(2 x left / rounds left)) calls: 32 of 32, then 26 of the 38
    left over 3 rounds, then the last 12; each costs one call to H and is a target."""
    task = get_task("wildcard_search", 6)
    amp = learned(task, budget=70, rounds=4)
    model = QAModel(small_shape(task))
    rng = np.random.default_rng(0)
    judged, spent = [], [0]
    for _ in range(6):
        work = amp.propose(rng)
        to_h, to_h_prime = judged_by(amp, work)
        n = int(work.judged.sum())
        assert not to_h_prime.any() and (to_h == work.judged).all()
        assert work.judged[:n].all() and not work.judged[n:].any()  # the first n, in order
        exp = amp.absorb(work, amp.expand(model, work), rng)
        assert (exp.targets >= 0).sum() == n
        judged.append(n)
        spent.append(overseer_calls(amp.counts))
    assert judged == [32, 26, 12, 0, 0, 0]
    assert np.diff(spent).tolist() == judged  # one call to H per question H decomposes
    assert amp.counts[LEARNED] == 0  # H' is not trusted yet: it decomposed nothing
    assert len(amp.learned_overseer.buffer.stored()) > 0  # but it learns from every step H took


def test_h_decomposes_within_its_allowance_and_h_prime_every_question_it_is_trusted_at():
    """With H' trusted at level 0 only (and no share left to H there), the judged questions are
    every level-0 question, by H', plus the first of the others that fit H's allowance, by H; the
    rest get no target."""
    torch.manual_seed(0)
    task = get_task("union_find", 6)
    amp = learned(task, budget=20, rounds=2, min_share=0.0)
    amp.curriculum.level = task.num_levels - 1
    amp.learned_overseer.accuracy[:] = 0.0
    amp.learned_overseer.accuracy[0] = 1.0
    rng = np.random.default_rng(0)
    allowance = amp.allowance()
    work = amp.propose(rng)
    easy = work.levels == 0
    to_h, to_h_prime = judged_by(amp, work)
    assert allowance == 20 and easy.sum() > 0 and (~easy).sum() > allowance
    assert (to_h_prime == easy).all()
    assert (to_h == (~easy & (np.cumsum(~easy) <= allowance))).all()
    exp = amp.absorb(work, amp.expand(QAModel(small_shape(task)), work), rng)
    assert (exp.targets >= 0).sum() == allowance + easy.sum()
    assert overseer_calls(amp.counts) == allowance and amp.counts[LEARNED] == easy.sum()
    assert amp.h_share == pytest.approx(allowance / 32)


def test_trusted_h_prime_takes_over_and_h_keeps_a_small_share():
    """Trusted everywhere, H' decomposes all but about ``min_share`` of the questions, with no
    budget on H; every question gets a target."""
    task = get_task("union_find", 6)
    amp = learned(task, budget=0, min_share=0.25)
    amp.learned_overseer.trust = 0.0  # trusted everywhere from the start
    exp = amp.amplify(QAModel(small_shape(task)), np.random.default_rng(1))
    h_calls = overseer_calls(amp.counts)
    assert (exp.targets >= 0).all()  # every question got a target
    assert amp.counts[LEARNED] + h_calls == 32 and 0 < h_calls < 16
    assert amp.h_share == pytest.approx(h_calls / 32)
