"""The games domain's commands, driven through the ``ida`` entry point on one tiny tic-tac-toe
run: play (through stdin), arena, moves, bench search, eval and show, and their one-line
errors for bad input."""

import json
import shutil
import subprocess
import sys

import pytest

from ida.testing import one_line_error, run_ida

TINY = {
    "steps": 4,
    "eval_every": 4,
    "steps_per_round": 2,
    "games": 8,
    "batch_size": 16,
    "device": "cpu",
    "search": {"simulations": 8},
    "eval": {"games": 2, "simulations": 4, "opponents": ["random"]},
    "net": {"width": 8, "blocks": 1, "value_hidden": 8},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ida.core.runs.run import train
    from ida.domains.games.config import configure

    path = tmp_path_factory.mktemp("games") / "run"
    train(configure("tic_tac_toe", TINY), path)
    return path


def test_commands_import_nothing_heavy():
    code = (
        "import sys, ida.domains.games.commands; "
        "print(sorted(m for m in ('torch', 'pyspiel', 'ida.domains.games.game') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_play_through_stdin(monkeypatch, capsys, run):
    """An illegal id and a malformed move each get a line and a new prompt; a move is taken by
    id or by name; a taken id is refused; then every id in turn until the game ends."""
    moves = "9\nfoo\nx(1,1)\n4\n" + "".join(f"{i}\n" for i in range(9))
    code, out, err = run_ida(monkeypatch, capsys, "play", run, stdin=moves)
    assert code == 0, err
    assert "9 is not a legal move here" in out
    assert "'foo' is not a move" in out
    assert "4:x(1,1)" in out and "the agent plays" in out
    assert out.rstrip().splitlines()[-1] in ("you win", "the agent wins", "a draw")
    assert "4 is not a legal move here" in out.split("the agent plays", 1)[1]


def test_play_second_with_the_raw_net_until_input_ends(monkeypatch, capsys, run):
    code, out, err = run_ida(monkeypatch, capsys, "play", run, "--second", "--sims", 0)
    assert code == 0, err
    assert "you play second" in out and "the agent plays" in out
    assert "no more input" in out and err == ""


def test_arena_against_random_as_json(monkeypatch, capsys, run):
    code, out, err = run_ida(
        monkeypatch, capsys, "arena", run, "random", "--games", 4, "--sims", 2, "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["game"] == "tic_tac_toe" and result["a"] == str(run) and result["b"] == "random"
    assert result["games"] == 4 == result["wins"] + result["draws"] + result["losses"]
    low, high = result["interval"]
    assert 0 <= low <= result["score"] <= high <= 1
    assert result["elo"]["random"] == 0 and str(run) in result["elo"]


def test_arena_against_rollout_mcts_and_a_checkpoint_file(monkeypatch, capsys, run):
    code, out, err = run_ida(monkeypatch, capsys, "arena", run, "mcts:10", "--games", 2)
    assert code == 0, err
    assert f"{run} vs mcts:10: " in out and "over 2 games" in out and "elo: " in out
    ckpt = run / "checkpoint.pt"
    code, out, err = run_ida(
        monkeypatch, capsys, "arena", ckpt, run, "--games", 2, "--sims", 0, "--openings", 2
    )
    assert code == 0, err
    assert out.startswith(f"{ckpt} vs {run}: ")


def test_arena_of_two_builtin_players_needs_the_game(monkeypatch, capsys):
    code, out, err = run_ida(
        monkeypatch, capsys, "arena", "random", "mcts:5", "--game", "tic_tac_toe", "--games", 2
    )
    assert code == 0, err
    assert out.startswith("random vs mcts:5: ")
    code, out, err = run_ida(
        monkeypatch, capsys, "arena", "random", "random", "--game", "tic_tac_toe", "--json"
    )
    assert code == 0 and json.loads(out)["games"] == 20
    code, _, err = run_ida(monkeypatch, capsys, "arena", "random", "mcts:5")
    one_line_error(code, err, "--game NAME")


@pytest.mark.parametrize(
    "args, match",
    [
        (["random", "mcts:5", "--game", "no_such_game"], "unknown game 'no_such_game'"),
        (["random", "mcts:5", "--game", "kuhn_poker"], "cannot be played"),
        (["random", "mcts:0", "--game", "tic_tac_toe"], "unknown player 'mcts:0'"),
        (["random", "alphago", "--game", "tic_tac_toe"], "unknown player 'alphago'"),
        (["random", "random", "--game", "tic_tac_toe", "--games", "0"], "--games"),
    ],
)
def test_arena_bad_input(monkeypatch, capsys, args, match):
    code, _, err = run_ida(monkeypatch, capsys, "arena", *args)
    one_line_error(code, err, match)


def test_arena_of_runs_of_another_game(monkeypatch, capsys, run):
    code, _, err = run_ida(monkeypatch, capsys, "arena", run, "random", "--game", "connect_four")
    one_line_error(code, err, "different games: connect_four, tic_tac_toe")


def test_moves(monkeypatch, capsys, run, tmp_path):
    positions = tmp_path / "positions.txt"
    positions.write_text("\n4\n4 0\n")
    code, out, err = run_ida(monkeypatch, capsys, "moves", run, positions, "--sims", 2)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].split()[1].startswith("x(") and lines[1].split()[1].startswith("o(")
    assert lines[1].split()[0] != "4" and lines[2].split()[0] not in ("4", "0")
    code, out, err = run_ida(monkeypatch, capsys, "moves", run, positions, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["line"] for r in rows] == [1, 2, 3]
    assert [r["actions"] for r in rows] == [[], [4], [4, 0]]
    assert all(r["move"] not in r["actions"] and r["move_string"] for r in rows)


@pytest.mark.parametrize(
    "text, match",
    [
        ("4\n4 4\n", "line 2: move 2 (4) is illegal there"),
        ("0\n\n1 x\n", "line 3: 'x' is not an action id"),
        ("0 3 1 4 2\n", "line 1: the game has ended there"),
        ("0 3 1 4 2 5\n", "line 1: move 6 (5) comes after the game has ended"),
        ("99\n", "line 1: move 1 (99) is illegal there"),
    ],
)
def test_moves_bad_lines(monkeypatch, capsys, run, tmp_path, text, match):
    positions = tmp_path / "positions.txt"
    positions.write_text(text)
    code, _, err = run_ida(monkeypatch, capsys, "moves", run, positions)
    one_line_error(code, err, match)


def test_moves_from_a_missing_file(monkeypatch, capsys, run, tmp_path):
    code, _, err = run_ida(monkeypatch, capsys, "moves", run, tmp_path / "nothing.txt")
    one_line_error(code, err, "cannot read")


def test_bench_search(monkeypatch, capsys):
    args = ["bench", "search", "--game", "tic_tac_toe", "--games", 4, "--sims", 4]
    code, out, err = run_ida(monkeypatch, capsys, *args, "--width", 4, "--blocks", 1, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["game"] == "tic_tac_toe" and result["games"] == 4
    for key in ("batched_sims_per_s", "one_at_a_time_sims_per_s", "forward_evals_per_s"):
        assert result[key] > 0
    assert result["speedup"] > 0 and 1 <= result["mean_batch"] <= 4
    assert 0 <= result["outside_net_share"] <= 1 and result["share_of_forward"] > 0
    code, out, err = run_ida(monkeypatch, capsys, *args, "--width", 4, "--lanes", 2, "--json")
    assert code == 0, err
    assert json.loads(out)["lanes"] == 2 and json.loads(out)["batched_sims_per_s"] > 0
    code, _, err = run_ida(monkeypatch, capsys, "bench", "search", "--lanes", 0)
    one_line_error(code, err, "--lanes must be at least 1")
    code, _, err = run_ida(monkeypatch, capsys, "bench", "search", "--game", "chess_960_x")
    one_line_error(code, err, "unknown game")
    code, _, err = run_ida(monkeypatch, capsys, "bench", "search", "--sims", 0)
    one_line_error(code, err, "--sims must be at least 1")


def test_eval_and_show(monkeypatch, capsys, run):
    code, out, err = run_ida(monkeypatch, capsys, "eval", run, "--json", "--seed", 3)
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "tic_tac_toe" and result["step"] == 4
    assert 0 <= result["accuracy"] <= 1 and "search_vs_random" in result
    code, out, err = run_ida(monkeypatch, capsys, "eval", run)
    assert code == 0, err
    assert "suboptimal_search" in out and "elo_search" in out
    code, out, err = run_ida(monkeypatch, capsys, "show", run)
    assert code == 0, err
    assert "move 1: first player to move" in out and "top: x(" in out and "result: " in out


def test_runs_that_cannot_be_played(monkeypatch, capsys, run, tmp_path):
    nothing = tmp_path / "empty"
    nothing.mkdir()
    code, _, err = run_ida(monkeypatch, capsys, "play", nothing)
    one_line_error(code, err, "holds no ida run")
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "checkpoint.pt").write_bytes(b"garbage")
    for args in (["play", broken], ["arena", broken, "random"], ["show", broken]):
        code, _, err = run_ida(monkeypatch, capsys, *args)
        one_line_error(code, err, "corrupt checkpoint")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"task": "union_find"}))
    code, _, err = run_ida(monkeypatch, capsys, "play", other)
    one_line_error(code, err, "holds a run of 'union_find', not of a game")
    code, _, err = run_ida(monkeypatch, capsys, "play", run, "--sims", -1)
    one_line_error(code, err, "--sims must be at least 0")
