"""Games by name: the playable ones load and encode, the rest are one-line errors that say why;
``ida tasks`` lists the playable ones."""

import numpy as np
import pytest

from ida.cli import tasks
from ida.core.errors import IdaError
from ida.core.registry import domain_of
from ida.domains.games.game import FEATURED, Game, GameNames


def one_line(err):
    return "\n" not in str(err.value)


def test_an_unknown_game_is_a_one_line_error():
    with pytest.raises(IdaError, match="unknown game 'no_such_game'") as err:
        Game("no_such_game")
    assert one_line(err)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("kuhn_poker", "hidden information"),
        ("leduc_poker", "hidden information"),
        ("goofspiel", "not sequential"),
    ],
)
def test_a_game_the_search_cannot_play_says_why(name, why):
    with pytest.raises(IdaError, match=why) as err:
        Game(name)
    assert name in str(err.value) and one_line(err)


def test_the_benchmarked_games_load_with_their_shapes(ttt, c4):
    assert (ttt.planes, ttt.height, ttt.width, ttt.actions) == (4, 3, 3, 9)
    assert (c4.planes, c4.height, c4.width, c4.actions) == (4, 6, 7, 7)


def test_encode_reads_the_board_and_whose_move_it_is(ttt):
    state = ttt.replay([4, 0])  # x in the centre, o in the corner; x to move
    board = ttt.encode([ttt.new_state(), state])
    assert board.shape == (2, 4, 3, 3) and board.dtype == np.float32
    empty, nought, cross, mover = board[1]
    assert cross[1, 1] == 1 and nought[0, 0] == 1 and empty.sum() == 7
    assert (mover == 0).all() and (board[0, 3] == 0).all() and (board[0, 0] == 1).all()
    assert (ttt.encode([ttt.replay([4])])[0, 3] == 1).all()  # o to move


@pytest.mark.parametrize("name", ["tic_tac_toe", "connect_four", "othello", "breakthrough", "hex"])
def test_encode_holds_each_states_observation_tensor_for_its_mover(name):
    game = Game(name)
    rng = np.random.default_rng(0)
    states, state = [], game.new_state()
    while not state.is_terminal() and len(states) < 12:
        states.append(state.clone())
        state.apply_action(int(rng.choice(state.legal_actions())))
    board = game.encode(states)
    for row, s in zip(board, states, strict=True):
        told = np.asarray(s.observation_tensor(s.current_player()), dtype=np.float32)
        assert np.array_equal(row[:-1].ravel(), told)
        assert (row[-1] == s.current_player()).all()


def test_legal_mask_is_the_games_legal_moves(c4):
    state = c4.replay([3] * 6)  # column 3 full
    mask = c4.legal_mask([c4.new_state(), state])
    assert mask.dtype == bool and mask[0].all()
    assert mask[1].tolist() == [True, True, True, False, True, True, True]


def test_replay_refuses_illegal_moves_and_moves_after_the_end(ttt):
    with pytest.raises(ValueError, match="move 2 .* illegal"):
        ttt.replay([4, 4])
    with pytest.raises(ValueError, match="after the game has ended"):
        ttt.replay([0, 3, 1, 4, 2, 5])


def test_game_names_list_the_playable_games_but_know_every_game():
    names = GameNames()
    listed = list(names)
    assert listed[:2] == ["tic_tac_toe", "connect_four"] == list(FEATURED)
    assert len(listed) == len(names) == len(set(listed))
    assert "kuhn_poker" in names and "kuhn_poker" not in listed
    assert "goofspiel" in names and "goofspiel" not in listed
    assert "no_such_game" not in names
    assert "tic-tac-toe" in names["tic_tac_toe"]
    for name in listed:
        Game(name)  # every listed game can be played


def test_the_games_domain_owns_its_games_and_hears_about_unplayable_ones():
    assert domain_of("connect_four").name == "games"
    assert domain_of("kuhn_poker").name == "games"  # so `ida train kuhn_poker` says why not
    with pytest.raises(IdaError, match="hidden information"):
        domain_of("kuhn_poker").configure("kuhn_poker", {})


def test_ida_tasks_lists_the_benchmarked_games_not_the_unplayable(capsys):
    tasks()
    lines = capsys.readouterr().out.splitlines()
    names = {line.split()[0] for line in lines if line.strip()}
    assert {"tic_tac_toe", "connect_four"} <= names
    assert "kuhn_poker" not in names and "goofspiel" not in names
    assert any(line.startswith("tic_tac_toe") and "(games)" in line for line in lines)
