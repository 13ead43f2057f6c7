"""Board symmetries move a position's policy and legal moves with the board: a move's mark
appears where its policy mass went, and a transformed board is the board of the transformed
game. ``augment`` draws one per row and keeps the outcome."""

import numpy as np
import pytest

from ida.domains.games.distill import augment
from ida.domains.games.selfplay import Positions
from ida.domains.games.symmetry import symmetries
from ida.domains.games.testing import random_positions


def syms_of(game):
    return symmetries(game.name, game.height, game.width, game.actions)


def image(sym):
    """``image[a]``: the action that original action ``a`` becomes."""
    return np.argsort(sym.source)


def pieces(game, state):
    """The observation planes of ``state``, terminal or not, as a batch of one board."""
    return np.array(state.observation_tensor(0), dtype=np.float32).reshape(1, *game.obs_shape)


def test_the_symmetries_of_each_game(ttt, c4):
    syms = syms_of(ttt)
    assert len(syms) == 7
    perms = {tuple(range(9))} | {tuple(s.source.tolist()) for s in syms}
    assert len(perms) == 8 and all(sorted(p) == list(range(9)) for p in perms)
    for p in perms:  # a group: closed under composition
        for q in perms:
            assert tuple(np.array(p)[list(q)].tolist()) in perms
    (mirror,) = syms_of(c4)
    assert mirror.source.tolist() == [6, 5, 4, 3, 2, 1, 0]
    assert symmetries("breakthrough", 8, 8, 300) == []


@pytest.mark.parametrize("name", ["ttt", "c4"])
def test_a_moves_mark_appears_where_its_policy_mass_went(request, name):
    game = request.getfixturevalue(name)
    for sym in syms_of(game):
        for state in random_positions(game, 40, 0):
            before = sym.boards(pieces(game, state))
            for action in state.legal_actions():
                after = sym.boards(pieces(game, state.child(action)))
                one_hot = np.zeros((1, game.actions), dtype=np.float32)
                one_hot[0, action] = 1
                moved = int(np.argmax(sym.actions(one_hot)[0]))
                assert sym.actions(one_hot).sum() == 1
                # the new piece: a cell that was empty and is now the mover's
                planes = (2, 1) if game.name == "tic_tac_toe" else (0, 1)  # x/o, or player 0/1
                new = (
                    after[0, planes[state.current_player()]]
                    - before[0, planes[state.current_player()]]
                )
                rows, cols = np.nonzero(new)
                assert len(rows) == 1
                if game.name == "tic_tac_toe":
                    assert rows[0] * game.width + cols[0] == moved
                else:
                    assert cols[0] == moved


@pytest.mark.parametrize("name", ["ttt", "c4"])
def test_a_transformed_board_is_the_board_of_the_transformed_game(request, name):
    game = request.getfixturevalue(name)
    for sym in syms_of(game):
        to = image(sym)
        for state in random_positions(game, 60, 1):
            twin = game.replay([int(to[a]) for a in state.history()])
            boards = sym.boards(game.encode([state]))
            np.testing.assert_array_equal(boards, game.encode([twin]))
            legal = sym.actions(game.legal_mask([state]))
            np.testing.assert_array_equal(legal, game.legal_mask([twin]))


def test_connect_four_mirror_moves_column_c_to_6_minus_c(c4):
    (mirror,) = syms_of(c4)
    state = c4.replay([0, 1, 0, 5])  # x twice in column 0, o in 1 and 5
    board = mirror.boards(c4.encode([state]))[0]
    assert board[0, 0, 6] == board[0, 1, 6] == 1 and board[0, :, :6].sum() == 0  # x: column 6
    assert board[1, 0, 5] == board[1, 0, 1] == 1 and board[1].sum() == 2  # o: 5 and 1
    policy = np.array([[0.5, 0.2, 0.1, 0.1, 0.05, 0.05, 0.0]], dtype=np.float32)
    assert mirror.actions(policy)[0].tolist() == policy[0, ::-1].tolist()


def test_tic_tac_toe_quarter_turn(ttt):
    turn = next(s for s in syms_of(ttt) if (s.rotations, s.flip) == (1, False))
    board = turn.boards(ttt.encode([ttt.replay([0])]))[0]  # x in the top-left corner
    cross = board[2]
    assert cross.sum() == 1 and cross[2, 0] == 1  # numpy's quarter turn: top-left to bottom-left
    policy = np.eye(9, dtype=np.float32)[[0]]
    assert np.argmax(turn.actions(policy)) == 6


def rows_of(game, count, seed):
    rng = np.random.default_rng(seed)
    states = random_positions(game, count, seed)
    legal = game.legal_mask(states)
    policy = rng.dirichlet(np.ones(game.actions), size=count).astype(np.float32) * legal
    policy /= policy.sum(1, keepdims=True)
    outcome = rng.choice([-1.0, 0.0, 1.0], size=count).astype(np.float32)
    return Positions(game.encode(states), legal, policy.astype(np.float32), outcome)


def moved(sym, how, row):
    """One row moved by ``sym`` (None: the identity)."""
    return row if sym is None else getattr(sym, how)(row[None])[0]


@pytest.mark.parametrize("name", ["ttt", "c4"])
def test_augment_moves_board_legal_moves_and_policy_together(request, name):
    game = request.getfixturevalue(name)
    syms = syms_of(game)
    rows = rows_of(game, 400, 2)
    kept = {k: v.copy() for k, v in rows.arrays().items()}
    out = augment(rows, syms, np.random.default_rng(0))
    for key, value in kept.items():  # the input is untouched
        np.testing.assert_array_equal(getattr(rows, key), value)
    np.testing.assert_array_equal(out.outcome, rows.outcome)
    used = []
    for i in range(len(rows)):
        fits = [
            k
            for k, sym in enumerate([None, *syms])
            if (out.boards[i] == moved(sym, "boards", rows.boards[i])).all()
            and (out.legal[i] == moved(sym, "actions", rows.legal[i])).all()
            and (out.policy[i] == moved(sym, "actions", rows.policy[i])).all()
        ]
        assert fits, i  # one symmetry moved all three
        used.append(fits[0])
        # the legal moves are those of the board: empty cells, or columns with an empty top
        empty = out.boards[i, 0] if game.name == "tic_tac_toe" else out.boards[i, 2, -1]
        assert (out.legal[i] == (empty.reshape(-1) == 1)).all()
        assert out.policy[i][~out.legal[i]].sum() == 0
        assert out.policy[i].sum() == pytest.approx(1, abs=1e-5)
    assert set(used) == set(range(len(syms) + 1))  # every symmetry (and the identity) drawn


def test_augment_without_symmetries_keeps_the_rows(ttt):
    rows = rows_of(ttt, 10, 3)
    assert augment(rows, [], np.random.default_rng(0)) is rows
