"""Self-play: games played together in one engine are move for move the games each would be
alone; their positions become training rows with the outcome for the player to move."""

from collections import Counter

import numpy as np
import pytest
import torch

from ida.core.engine import Engine
from ida.domains.games.mcts import SearchSettings
from ida.domains.games.net import NetSettings, PolicyValueNet
from ida.domains.games.selfplay import SelfPlay, self_play, to_positions

SEEDS = [11, 12, 13, 14, 15, 16]


def play(game, settings, evaluate, seeds, together, temperature_moves=4, lanes=1):
    """The games of ``seeds``: all in one engine (of ``lanes`` lanes), or each alone in its
    own."""
    coros = [
        self_play(game, settings, temperature_moves, evaluate, np.random.default_rng(s), Counter())
        for s in seeds
    ]
    if together:
        return Engine(lanes=lanes).run(coros)
    return [Engine().run([coro])[0] for coro in coros]


def same_game(a, b):
    assert [s.history() for s in a.states] == [s.history() for s in b.states]
    assert len(a.policies) == len(b.policies)
    for p, q in zip(a.policies, b.policies, strict=True):
        np.testing.assert_array_equal(p, q)
    assert a.movers == b.movers and a.returns == b.returns


@pytest.mark.parametrize(
    "settings",
    [
        SearchSettings(simulations=12),
        SearchSettings(simulations=12, leaves=4),
        SearchSettings(simulations=12, reuse=False),
    ],
    ids=["exact", "virtual-loss", "no-reuse"],
)
@pytest.mark.parametrize("name", ["ttt", "c4"])
@pytest.mark.parametrize("lanes", [1, 2])
def test_games_played_together_are_the_games_played_alone(request, linear, name, settings, lanes):
    game = request.getfixturevalue(name)
    evaluate = linear(game)
    together = play(game, settings, evaluate, SEEDS, together=True, lanes=lanes)
    assert max(evaluate.batches) > 1  # the engine did batch the games' leaves
    evaluate.batches.clear()
    alone = play(game, settings, evaluate, SEEDS, together=False)
    assert max(evaluate.batches) <= settings.leaves
    for a, b in zip(together, alone, strict=True):
        same_game(a, b)
    # different seeds, different games: the comparison is not between copies of one game
    assert len({tuple(t.states[-1].history()) for t in together}) > 1


@pytest.mark.parametrize("leaves", [1, 4])
def test_self_play_moves_are_legal_and_each_search_adds_its_simulations(c4, linear, leaves):
    settings = SearchSettings(simulations=10, leaves=leaves, reuse=False)
    counts = Counter()
    coros = [
        self_play(c4, settings, 3, linear(c4), np.random.default_rng(s), counts) for s in SEEDS
    ]
    games = Engine().run(coros)
    moves = sum(len(t.states) for t in games)
    assert counts["simulations"] == 10 * moves
    for t in games:
        for state, pi, mover in zip(t.states, t.policies, t.movers, strict=True):
            assert mover == state.current_player()
            assert pi.sum() == pytest.approx(1)
            assert set(np.flatnonzero(pi)) <= set(state.legal_actions())
            assert np.allclose(pi * 10, np.round(pi * 10))  # visit counts of ten simulations
        # each state follows from the one before by one legal move
        for before, after in zip(t.states, t.states[1:], strict=False):
            assert after.history()[:-1] == before.history()
            assert after.history()[-1] in before.legal_actions()
        assert sorted(t.returns) in ([-1.0, 1.0], [0.0, 0.0])


def test_positions_give_the_outcome_for_the_player_to_move(ttt, linear):
    games = play(ttt, SearchSettings(simulations=8), linear(ttt), SEEDS, together=True)
    rows = to_positions(ttt, games)
    n = sum(len(t.states) for t in games)
    assert len(rows) == n and rows.boards.shape == (n, 4, 3, 3)
    assert rows.legal.shape == rows.policy.shape == (n, 9) and rows.outcome.shape == (n,)
    i = 0
    for t in games:
        for state, mover in zip(t.states, t.movers, strict=True):
            assert rows.outcome[i] == t.returns[mover]
            np.testing.assert_array_equal(rows.boards[i], ttt.encode([state])[0])
            assert rows.legal[i].tolist() == ttt.legal_mask([state])[0].tolist()
            i += 1
    assert not rows.policy[~rows.legal].any()


def test_a_round_expands_purely_and_absorbs_its_counts(ttt):
    torch.manual_seed(0)
    net = PolicyValueNet(
        ttt.planes,
        ttt.height,
        ttt.width,
        ttt.actions,
        NetSettings(width=8, blocks=1, value_hidden=8),
    )
    amp = SelfPlay(ttt, SearchSettings(simulations=8), games=5, temperature_moves=2)
    work = amp.propose(np.random.default_rng(0))
    assert len(work) == 5
    trees = amp.expand(net, work)
    assert not amp.counts  # expand changes nothing of the amplifier
    again, _ = amp.expand(net, work)
    for a, b in zip(trees[0], again, strict=True):
        same_game(a, b)
    assert len({tuple(t.states[-1].history()) for t in again}) > 1  # each game its own seed
    rows = amp.absorb(work, trees, np.random.default_rng(0))
    c = amp.counts
    assert c["games"] == 5 and c["positions"] == len(rows)
    assert c["first_wins"] + c["draws"] + c["second_wins"] == 5
    assert c["simulations"] == 8 * len(rows)
    assert c["net_evals"] <= c["simulations"] + len(rows)
