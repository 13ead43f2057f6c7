"""Tic-tac-toe solved exactly: the yardstick's positions and their optimal moves."""

from ida.domains.games.solve import solve


def optimal(ttt, solution, moves):
    key = str(ttt.replay(moves))
    (found,) = [
        best for s, best in zip(solution.states, solution.optimal, strict=True) if str(s) == key
    ]
    return found


def test_tic_tac_toe_has_4520_positions_each_with_legal_optimal_moves(ttt, solution):
    assert len(solution.states) == len(solution.optimal) == 4520
    assert len({str(s) for s in solution.states}) == 4520
    for state, best in zip(solution.states, solution.optimal, strict=True):
        assert not state.is_terminal()
        assert best and best <= set(state.legal_actions())


def test_every_first_move_draws(ttt, solution):
    assert optimal(ttt, solution, []) == set(range(9))


def test_known_positions(ttt, solution):
    # x in the centre: o must take a corner, an edge loses
    assert optimal(ttt, solution, [4]) == {0, 2, 6, 8}
    # x on 0 and 1, o on 3 and 4, x to move: only 2 wins at once (5 would lose to o's 5)
    assert optimal(ttt, solution, [0, 3, 1, 4]) == {2}
    # x threatens 0-1-2; o in the centre must block at 2, anything else loses
    assert optimal(ttt, solution, [0, 4, 1]) == {2}
    # x in a corner, o on the adjacent edge: x wins by the centre, or by 3 or 6
    assert optimal(ttt, solution, [0, 1]) == {3, 4, 6}


def test_the_optimal_moves_agree_with_an_independent_negamax(solution, oracle):
    for state, best in zip(solution.states, solution.optimal, strict=True):
        ((actions, _, value),) = oracle([state])
        mover = state.current_player()
        found = set()
        for action in actions:
            child = state.child(action)
            v = child.returns()[mover] if child.is_terminal() else -oracle([child])[0][2]
            if v == value:
                found.add(action)
        assert found == best, str(state)


def test_solving_is_deterministic(ttt, solution):
    again = solve(ttt)
    assert [str(s) for s in again.states] == [str(s) for s in solution.states]
    assert again.optimal == solution.optimal
