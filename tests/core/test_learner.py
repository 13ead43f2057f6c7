"""The Learner: one gradient step for every network, its EMA teacher, heads and checkpoint state."""

import copy
import math

import pytest
import torch
from torch import nn

from ida.core.learner import Learner


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, generator=g), torch.randn(16, 2, generator=g)


def mse(model, x, y):
    return (model(x) - y).pow(2).mean()


def test_the_teacher_moves_towards_the_model_by_one_minus_ema():
    """After every step each teacher weight is ema * its old value + (1 - ema) * the model's."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    learner = Learner(model, lr=0.1, ema=0.75)
    assert all(not p.requires_grad for p in learner.teacher.parameters())
    x, y = data()
    for _ in range(3):
        old = [p.detach().clone() for p in learner.teacher.parameters()]
        loss = mse(model, x, y)
        assert learner.step(loss) == pytest.approx(loss.item())
        for t, o, m in zip(learner.teacher.parameters(), old, model.parameters(), strict=True):
            torch.testing.assert_close(t, 0.75 * o + 0.25 * m.detach())
    assert learner.steps == 3
    assert not torch.equal(learner.teacher.weight, model.weight)  # it lags behind
    assert Learner(nn.Linear(3, 2), lr=0.1).teacher is None  # no ema, no teacher


def test_heads_train_in_the_same_optimizer_and_are_clipped_with_the_model():
    """A head added to the learner is stepped by the same optimizer, its gradients clipped
    together with the model's to ``clip`` in all, and saved with the learner's state."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    learner = Learner(model, lr=0.1, clip=0.5)
    head = learner.add_head("critic", nn.Linear(3, 1))
    x, y = data()
    head_before = [p.detach().clone() for p in head.parameters()]
    loss = mse(model, x, y) + 1e4 * head(x).pow(2).mean()  # the head's gradient dwarfs A's
    learner.step(loss)
    assert all(not torch.equal(p, b) for p, b in zip(head.parameters(), head_before, strict=True))
    grads = [p.grad for p in [*model.parameters(), *head.parameters()]]
    assert torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])) <= 0.5 + 1e-4
    assert set(learner.state_dict()["heads"]) == {"critic.weight", "critic.bias"}


def make_learner(seed):
    torch.manual_seed(seed)
    learner = Learner(nn.Linear(3, 2), lr=0.05, ema=0.9)
    learner.add_head("critic", nn.Linear(3, 2))
    return learner


def train(learner, steps, x, y):
    for _ in range(steps):
        learner.step(mse(learner.model, x, y) + mse(learner.heads["critic"], x, y))


def test_state_round_trips_so_training_continues_exactly():
    """A fresh learner given a saved model and learner state (teacher, optimizer moments, heads,
    step count) trains on exactly as the saved one does."""
    x, y = data()
    a = make_learner(0)
    train(a, 3, x, y)
    saved = copy.deepcopy({"model": a.model.state_dict(), "learner": a.state_dict()})
    b = make_learner(1)  # other initial weights: everything must come from the state
    b.model.load_state_dict(saved["model"])
    b.load_state_dict(saved["learner"])
    assert b.steps == 3
    train(a, 2, x, y)
    train(b, 2, x, y)
    for net in ("model", "teacher", "heads"):
        sa, sb = getattr(a, net).state_dict(), getattr(b, net).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), net
    assert b.steps == 5


@pytest.mark.parametrize("poison", ["loss", "gradient"])
def test_a_step_that_is_not_finite_changes_nothing(poison):
    """A NaN loss, or a finite loss whose gradient overflows, leaves the model, its teacher and
    the optimizer's moments as they were; the step is counted as skipped, and training goes on."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    learner = Learner(model, lr=0.1, ema=0.5)
    x, y = data()
    learner.step(mse(model, x, y))
    before = copy.deepcopy((model.state_dict(), learner.state_dict()))
    if poison == "loss":
        bad = mse(model, x, y) * float("nan")
    else:
        w = model.weight[0, 0]
        bad = torch.sqrt(w - w.detach())  # sqrt(0) = 0: a finite loss, an infinite gradient
        assert torch.isfinite(bad)
    learner.step(bad)
    assert learner.skipped == 1 and learner.steps == 2
    after = (model.state_dict(), learner.state_dict())
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k])
    for k, v in before[1]["teacher"].items():
        assert torch.equal(v, after[1]["teacher"][k])
    assert before[1]["optimizer"]["state"][0]["exp_avg"].equal(
        after[1]["optimizer"]["state"][0]["exp_avg"]
    )
    loss = learner.step(mse(model, x, y))
    assert math.isfinite(loss) and learner.skipped == 1
    assert not torch.equal(before[0]["weight"], model.weight)  # it trains on
    assert Learner(nn.Linear(3, 2), lr=0.1).state_dict()["skipped"] == 0
