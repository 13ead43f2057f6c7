"""Distillation: the policy learns the search's visit counts over the legal moves, the value
learns the outcome, from a replay window drawn under the board's symmetries."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from ida.core.learner import Learner
from ida.domains.games.distill import PolicyValueDistiller, losses
from ida.domains.games.net import NetSettings, PolicyValueNet
from ida.domains.games.selfplay import Positions
from ida.domains.games.symmetry import symmetries
from ida.domains.games.testing import random_positions


class Fixed(nn.Module):
    """Returns the given logits and values whatever the boards."""

    def __init__(self, logits, values):
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits, dtype=torch.float32))
        self.values = nn.Parameter(torch.tensor(values, dtype=torch.float32))

    def forward(self, boards):
        return self.logits, self.values


def rows_of(game, states, seed=0):
    rng = np.random.default_rng(seed)
    legal = game.legal_mask(states)
    policy = rng.dirichlet(np.ones(game.actions), size=len(states)) * legal
    policy = (policy / policy.sum(1, keepdims=True)).astype(np.float32)
    outcome = rng.choice([-1.0, 0.0, 1.0], size=len(states)).astype(np.float32)
    return Positions(game.encode(states), legal, policy, outcome)


def test_losses_are_cross_entropy_over_legal_moves_and_squared_error(ttt):
    states = [ttt.new_state(), ttt.replay([4, 0])]
    rows = rows_of(ttt, states)
    rng = np.random.default_rng(1)
    logits, values = rng.normal(size=(2, 9)), np.array([0.5, -0.25])
    policy_loss, value_loss = losses(Fixed(logits, values), rows, "cpu")
    expected = 0.0
    for i in range(2):
        legal = rows.legal[i]
        z = logits[i][legal]
        logp = z - np.log(np.exp(z).sum())
        expected -= (rows.policy[i][legal] * logp).sum() / 2
    assert policy_loss.item() == pytest.approx(expected, rel=1e-5)
    assert value_loss.item() == pytest.approx(((values - rows.outcome) ** 2).mean(), rel=1e-5)
    # what the net says about illegal moves does not matter
    louder = logits.copy()
    louder[1, [0, 4]] = 1e6
    assert losses(Fixed(louder, values), rows, "cpu")[0].item() == pytest.approx(expected, 1e-5)


def test_the_policy_loss_is_least_at_the_target(ttt):
    rows = rows_of(ttt, [ttt.replay([4, 0])])
    target = np.log(np.maximum(rows.policy, 1e-12))
    best = losses(Fixed(target, [0.0]), rows, "cpu")[0].item()
    for seed in range(5):
        other = target + np.random.default_rng(seed).normal(size=target.shape)
        other[~rows.legal] = target[~rows.legal]
        assert losses(Fixed(other, [0.0]), rows, "cpu")[0].item() > best


def distiller(game, ema=None, seed=0):
    torch.manual_seed(seed)
    net = PolicyValueNet(
        game.planes,
        game.height,
        game.width,
        game.actions,
        NetSettings(width=8, blocks=1, value_hidden=8),
    )
    learner = Learner(net, 1e-2, ema, weight_decay=0.0)
    syms = symmetries(game.name, game.height, game.width, game.actions)
    return PolicyValueDistiller(net, learner, window=500, batch_size=32, syms=syms, device="cpu")


def test_distillation_fits_the_searchs_targets(ttt):
    """Learnable targets that every symmetry keeps: the search takes the centre when it is
    free, else spreads evenly over the legal moves; the first player always wins."""
    d = distiller(ttt)
    assert d.teacher is d.net
    states = random_positions(ttt, 96, 0)
    legal = ttt.legal_mask(states)
    policy = legal / legal.sum(1, keepdims=True)
    policy[legal[:, 4]] = np.eye(9)[4]
    policy = policy.astype(np.float32)
    floor = -(policy * np.log(np.maximum(policy, 1e-12))).sum(1).mean()  # the least it can be
    outcome = np.array([1.0 - 2 * s.current_player() for s in states], dtype=np.float32)
    rows = Positions(ttt.encode(states), legal, policy, outcome)
    d.add(rows)
    before = [t.item() for t in losses(d.net.eval(), rows, "cpu")]
    rng = np.random.default_rng(0)
    for _ in range(80):
        out = d.step(rng)
    assert set(out) == {"loss", "policy_loss", "value_loss"}
    assert d.net.training
    after = [t.item() for t in losses(d.net.eval(), rows, "cpu")]
    assert after[0] - floor < 0.3 * (before[0] - floor) and after[1] < 0.3 * before[1]


def test_an_ema_teacher_lags_the_net(ttt):
    d = distiller(ttt, ema=0.9)
    assert d.teacher is not d.net
    d.add(rows_of(ttt, random_positions(ttt, 64, 0)))
    start = copy.deepcopy(d.teacher.state_dict())
    rng = np.random.default_rng(0)
    for _ in range(5):
        d.step(rng)
    moved = d.teacher.state_dict()
    net = d.net.state_dict()
    name = "policy.4.weight"
    assert not torch.equal(moved[name], start[name])
    assert not torch.equal(moved[name], net[name])


def test_an_ema_teacher_keeps_up_with_the_nets_batch_norm_statistics(ttt):
    """The teacher plays in eval mode, where batch norm uses its running statistics; a teacher
    whose statistics stay at their initial values (mean 0, variance 1) while its weights follow
    the net's computes a different function from both the net and its own weights' net."""
    d = distiller(ttt, ema=0.5)
    d.add(rows_of(ttt, random_positions(ttt, 64, 0)))
    rng = np.random.default_rng(0)
    for _ in range(30):
        d.step(rng)
    teacher, net = d.teacher.state_dict(), d.net.state_dict()
    fresh = distiller(ttt, ema=0.5).net.state_dict()  # the statistics before any training
    for name in ("stem.1.running_mean", "stem.1.running_var", "value.1.running_var"):
        start = (net[name] - fresh[name]).abs().max()
        assert start > 0.05, name  # training did move the net's statistics
        assert (teacher[name] - net[name]).abs().max() < 0.5 * start, name


def test_state_round_trip_continues_identically(ttt):
    a = distiller(ttt, ema=0.5)
    a.add(rows_of(ttt, random_positions(ttt, 80, 1)))
    rng = np.random.default_rng(0)
    for _ in range(3):
        a.step(rng)
    b = distiller(ttt, ema=0.5, seed=7)
    b.net.load_state_dict(a.net.state_dict())
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    assert len(b.replay.sample(np.random.default_rng(0), 5)) == 5
    ra, rb = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(3):
        assert a.step(ra) == b.step(rb)
    for key, value in a.net.state_dict().items():
        assert torch.equal(value, b.net.state_dict()[key]), key
    for key, value in a.teacher.state_dict().items():
        assert torch.equal(value, b.teacher.state_dict()[key]), key
