"""PUCT search: it finds wins and blocks, follows the prior when values are equal, never plays an
illegal move whatever the net says, and keeps its visit counts exact (virtual loss included)."""

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from ida.core.engine import Engine
from ida.domains.games.mcts import (
    Node,
    SearchSettings,
    add_noise,
    choose,
    make_evaluator,
    search,
    visit_policy,
)
from ida.domains.games.players import NetPlayer
from ida.domains.games.testing import random_positions

MIDDLE = (2, 3, 4)  # Connect Four's middle columns, favoured so that columns fill up

QUIET = SearchSettings(simulations=100, dirichlet_fraction=0.0)


def searched(state, evaluate, settings=QUIET, seed=0, noise=False, root=None):
    """The root after one search from ``state`` (or of ``root``), and the search's counts."""
    root = root or Node(state.clone())
    counts = Counter()
    Engine().run([search(root, settings, evaluate, np.random.default_rng(seed), counts, noise)])
    return root, counts


def most_visited(root):
    return root.actions[int(np.argmax(root.N))]


def check_tree(node):
    """Every expanded node's edge visits sum to its own visits, and no virtual loss is left:
    each edge's total value is within what its visits allow."""
    if node.actions is None or node.returns is not None:
        return
    assert sum(node.N) == node.n
    for n, w, child in zip(node.N, node.W, node.children, strict=True):
        assert n >= 0 and abs(w) <= n + 1e-9
        if child is not None:
            check_tree(child)


@pytest.mark.parametrize(
    ("name", "moves", "win"),
    [
        ("tic_tac_toe", [0, 3, 1, 4], 2),  # x completes the top row
        ("connect_four", [0, 0, 1, 1, 2, 2], 3),  # x completes the bottom row
    ],
)
def test_the_search_takes_a_win_in_one(request, uniform, name, moves, win):
    game = request.getfixturevalue({"tic_tac_toe": "ttt", "connect_four": "c4"}[name])
    root, counts = searched(
        game.replay(moves), uniform, SearchSettings(simulations=200, dirichlet_fraction=0)
    )
    assert most_visited(root) == win == choose(root, 0.0, np.random.default_rng(0))
    assert root.N[root.actions.index(win)] > sum(root.N) / 2
    # the winning child is terminal and valued exactly: a win for the mover at every visit
    i = root.actions.index(win)
    assert root.children[i].returns is not None and root.W[i] == root.N[i]


def test_the_search_blocks_the_only_threat_with_a_value_oracle(ttt, oracle, solution):
    moves = [0, 4, 1]  # x threatens 0-1-2; o must take 2
    root, _ = searched(
        ttt.replay(moves), oracle, SearchSettings(simulations=50, dirichlet_fraction=0)
    )
    (best,) = [
        b
        for s, b in zip(solution.states, solution.optimal, strict=True)
        if str(s) == str(root.state)
    ]
    assert best == {2} and most_visited(root) == 2


def test_the_search_blocks_from_the_rules_alone(c4, uniform):
    root, _ = searched(
        c4.replay([0, 6, 1, 6, 2]), uniform, SearchSettings(simulations=300, dirichlet_fraction=0)
    )
    assert most_visited(root) == 3  # o blocks x's bottom row


def test_with_equal_values_visits_follow_the_prior(c4):
    prior = np.array([0.03, 0.07, 0.11, 0.30, 0.21, 0.16, 0.12])

    def fixed(states):
        out = []
        for s in states:
            legal = s.legal_actions()
            out.append((legal, (prior[legal] / prior[legal].sum()).tolist(), 0.0))
        return out

    root, counts = searched(c4.new_state(), fixed, SearchSettings(simulations=400), noise=False)
    visits = np.array(root.N)
    assert root.actions == list(range(7)) and visits.sum() == 400
    assert np.argsort(-visits).tolist() == np.argsort(-prior).tolist()
    assert np.abs(visits / visits.sum() - prior).max() < 0.02
    assert counts["simulations"] == 400


class Perverse(nn.Module):
    """A net that puts huge logits on exactly the illegal moves: occupied cells (tic-tac-toe) or
    full columns (Connect Four), and large negative ones on the legal moves."""

    def __init__(self, game):
        super().__init__()
        self.game = game
        self.noise = torch.randn(game.actions, generator=torch.Generator().manual_seed(0))

    def forward(self, boards):
        if self.game.name == "tic_tac_toe":
            illegal = 1 - boards[:, 0].flatten(1)  # plane 0: empty cells
        else:
            illegal = 1 - boards[:, 2, -1, :]  # plane 2: empty cells; the last row is the top
        logits = 1e4 * illegal - 1e4 * (1 - illegal) + self.noise
        return logits, torch.full((len(boards),), 0.25)


def test_the_evaluator_gives_priors_over_legal_moves_only(ttt, c4, solution):
    for game, states in ((ttt, solution.states), (c4, random_positions(c4, 300, 0, favour=MIDDLE))):
        net = Perverse(game).eval()
        with torch.no_grad():
            raw = net(torch.from_numpy(game.encode(states)))[0].argmax(-1).tolist()
        # the test has teeth: wherever a move is illegal, the raw net prefers one
        full = [
            s for s, a in zip(states, raw, strict=True) if len(s.legal_actions()) < game.actions
        ]
        assert full and all(
            a not in s.legal_actions()
            for s, a in zip(states, raw, strict=True)
            if len(s.legal_actions()) < game.actions
        )
        answers = make_evaluator(net, game)(states)
        assert len(answers) == len(states)
        for state, (actions, priors, value) in zip(states, answers, strict=True):
            assert actions == state.legal_actions()
            assert np.isfinite(priors).all() and abs(sum(priors) - 1) < 1e-5
            assert value == pytest.approx(0.25)


def test_net_players_never_play_an_illegal_move(ttt, c4, solution):
    for game, states in ((ttt, solution.states), (c4, random_positions(c4, 200, 1, favour=MIDDLE))):
        net = Perverse(game)
        for simulations, every in ((0, 1), (8, 7)):
            player = NetPlayer(net, game, simulations)
            chosen = states[::every]
            rng = np.random.default_rng(0)
            moves = Engine().run([player.act(s, rng) for s in chosen])
            assert all(m in s.legal_actions() for m, s in zip(moves, chosen, strict=True))


@pytest.mark.parametrize("leaves", [1, 4, 16])
def test_visit_totals_equal_the_simulations_and_no_virtual_loss_is_left(c4, ttt, linear, leaves):
    s = SearchSettings(simulations=60, leaves=leaves)
    for game in (c4, ttt):
        for state in random_positions(game, 12, 2, favour=MIDDLE)[::3]:
            root, counts = searched(state, linear(game), s, noise=True)
            assert sum(root.N) == root.n == 60 == counts["simulations"]
            assert set(root.actions) == set(state.legal_actions())
            assert most_visited(root) in state.legal_actions()
            check_tree(root)
            # one evaluation per new leaf, never more than the simulations (and the root's)
            assert counts["net_evals"] <= 61


def test_virtual_loss_spreads_a_round_of_leaves_over_different_moves(c4, uniform):
    batches = []

    def evaluate(states):
        batches.append(len(states))
        return uniform(states)

    s = SearchSettings(simulations=7, leaves=7, dirichlet_fraction=0)
    root, counts = searched(c4.new_state(), evaluate, s)
    # the root's expansion, then one batch of seven distinct first moves
    assert batches == [1, 7] and root.N == [1] * 7 and root.W == [0.0] * 7
    # a leaf already in flight ends the round early rather than being evaluated twice
    batches.clear()
    s = SearchSettings(simulations=20, leaves=20, dirichlet_fraction=0)
    root, counts = searched(c4.new_state(), evaluate, s)
    assert batches[:2] == [1, 7] and sum(batches) == counts["net_evals"] == 21
    assert sum(root.N) == 20


def test_a_searched_subtree_is_reused_and_grown(c4, linear):
    evaluate = linear(c4)
    root, _ = searched(c4.new_state(), evaluate, QUIET)
    action = most_visited(root)
    child = root.child(action)
    assert child is root.children[root.actions.index(action)]
    before = child.n
    assert before == root.N[root.actions.index(action)] - 1  # its own first visit expanded it
    grown, _ = searched(None, evaluate, QUIET, root=child)
    assert grown is child and child.n == before + 100
    check_tree(child)
    # an unsearched move gives a fresh node
    fresh = Node(c4.new_state()).child(3)
    assert fresh.actions is None and fresh.state.history() == [3]


def test_noise_is_mixed_into_the_root_only_once_per_search(c4, linear):
    evaluate = linear(c4)
    plain, _ = searched(c4.new_state(), evaluate, QUIET)
    noisy, _ = searched(c4.new_state(), evaluate, SearchSettings(simulations=100), noise=True)
    assert not np.allclose(noisy.P, plain.P) and sum(noisy.P) == pytest.approx(1)
    # below the root, the priors are the evaluator's
    for a, b in zip(noisy.children, plain.children, strict=True):
        if a is not None and b is not None and a.actions and b.actions:
            assert a.P == b.P
    # the same seed, the same noise; fraction 0: none
    again, _ = searched(c4.new_state(), evaluate, SearchSettings(simulations=100), noise=True)
    assert again.P == noisy.P and again.N == noisy.N
    root = Node(c4.new_state())
    root.expand(list(range(7)), [1 / 7] * 7)
    add_noise(root, SearchSettings(dirichlet_fraction=0), np.random.default_rng(0))
    assert root.P == [1 / 7] * 7


def test_terminal_roots_are_left_alone(ttt, uniform):
    root, counts = searched(ttt.replay([0, 3, 1, 4, 2]), uniform)
    assert root.returns == [1.0, -1.0] and root.actions is None and not counts


def test_choose_and_visit_policy(ttt):
    root = Node(ttt.replay([4]))
    root.expand([0, 1, 2, 3, 5, 6, 7, 8], [1 / 8] * 8)
    root.N = [0, 5, 0, 5, 1, 0, 0, 9]
    pi = visit_policy(root, ttt.actions)
    assert pi.shape == (9,) and pi.sum() == pytest.approx(1) and pi[4] == 0
    assert pi[8] == pytest.approx(9 / 20) and pi[1] == pytest.approx(5 / 20)
    rng = np.random.default_rng(0)
    assert choose(root, 0.0, rng) == 8
    root.N = [0, 5, 0, 5, 1, 0, 0, 5]
    assert choose(root, 0.0, rng) == 1  # the first of equals
    draws = Counter(choose(root, 1.0, rng) for _ in range(4000))
    assert set(draws) == {1, 3, 5, 8}
    assert draws[5] / 4000 == pytest.approx(1 / 16, abs=0.02)
    assert draws[1] / 4000 == pytest.approx(5 / 16, abs=0.03)
