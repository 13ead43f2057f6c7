"""The games domain's commands: ``ida eval``'s and ``ida show``'s views of a games run, and
``ida play``, ``ida arena``, ``ida moves`` and ``ida bench search``. Added to every ``ida``
call, so this module imports nothing heavy (torch, pyspiel, the domain) until a command runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ida.core.errors import IdaError

if TYPE_CHECKING:
    from ida.domains.games.job import GamesJob

out = Console()


def evaluate_run(job: GamesJob, seed: int, **_: Any) -> tuple[dict[str, Any], Table]:
    """Every yardstick of the run's teacher net, and a table of them (``per_level`` and
    ``weights`` mean nothing here)."""
    from ida.domains.games.evaluate import yardsticks

    found = yardsticks(
        job.distiller.teacher,
        job.game,
        job.cfg.eval,
        job.cfg.search,
        job.solution,
        seed,
        job.device,
    )
    result = {"task": job.cfg.task, "step": job.loop.step, **found}
    table = Table(title=f"{job.cfg.task} (AlphaZero), step {job.loop.step}, seed {seed}")
    table.add_column("yardstick")
    table.add_column("score", justify="right")
    for key, value in found.items():
        shown = f"{value:+.0f}" if key.startswith("elo_") else f"{value:.3f}"
        table.add_row(key, f"[bold]{shown}[/bold]" if key == "accuracy" else shown)
    return result, table


def render_game(job: GamesJob, seed: int = 0, **_: Any):
    """``ida show``: one game of the agent against itself, what its search saw at every move."""
    from ida.domains.games.play import render_selfplay

    return render_selfplay(job, seed)


def _check_sims(sims: int | None) -> None:
    if sims is not None and sims < 0:
        raise IdaError("--sims must be at least 0 (0: the raw net)")


def play(
    run: Annotated[Path, typer.Argument(help="a games run directory or checkpoint file")],
    sims: Annotated[
        int | None, typer.Option(help="agent's simulations a move (default: the run's; 0: net)")
    ] = None,
    second: Annotated[bool, typer.Option("--second", help="let the agent move first")] = False,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Play a game against a run's agent in the terminal."""
    from ida.domains.games.play import agent, load_run, terminal_game

    _check_sims(sims)
    job = load_run(run)
    terminal_game(job.game, agent(job, sims), int(second), sys.stdin, sys.stdout, seed)


def _players(specs: list[str], game_name: str | None, sims: int | None, seed: int):
    """The game and a player for each spec (names made distinct)."""
    from ida.domains.games.evaluate import opponent
    from ida.domains.games.game import Game
    from ida.domains.games.play import agent, is_builtin, load_run

    jobs = {}
    for spec in specs:
        if is_builtin(spec) or spec in jobs:
            continue
        if not Path(spec).exists():
            raise IdaError(
                f"unknown player {spec!r}: not 'random', 'mcts:N' (N >= 1), a run directory or "
                "a checkpoint file"
            )
        jobs[spec] = load_run(spec)
    games = {job.cfg.task for job in jobs.values()} | ({game_name} if game_name else set())
    if len(games) > 1:
        raise IdaError(f"the players are of different games: {', '.join(sorted(games))}")
    if not games:
        raise IdaError("neither player is a run: name the game with --game NAME")
    game = Game(games.pop())
    names = list(specs) if specs[0] != specs[1] else [f"{specs[0]} (a)", f"{specs[1]} (b)"]
    players = [
        agent(jobs[spec], sims, name) if spec in jobs else opponent(game, spec, seed)
        for spec, name in zip(specs, names, strict=True)
    ]
    for player, name in zip(players, names, strict=True):
        player.name = name
    return game, players


def arena(
    a: Annotated[
        str, typer.Argument(metavar="A", help="a run, a checkpoint file, 'random' or 'mcts:N'")
    ],
    b: Annotated[str, typer.Argument(metavar="B", help="the same kinds as A")],
    games: Annotated[int, typer.Option(help="games, A first in half of them")] = 20,
    sims: Annotated[
        int | None, typer.Option(help="runs' simulations a move (default: each run's; 0: net)")
    ] = None,
    openings: Annotated[int, typer.Option(help="first plies of each game at random")] = 1,
    game: Annotated[str | None, typer.Option(help="the game, where neither is a run")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Play A against B: A's score with a 95% interval, and Elo ratings of the two."""
    from ida.domains.games.arena import elo, play_match

    _check_sims(sims)
    if games < 1:
        raise IdaError("--games must be at least 1")
    if openings < 0:
        raise IdaError("--openings must be at least 0")
    board, (first, other) = _players([a, b], game, sims, seed)
    match = play_match(board, first, other, games, seed, openings)
    ratings = elo([match], anchor="random" if first.name == "random" else other.name)
    if as_json:
        low, high = match.interval()
        fields = ("a", "b", "games", "wins", "draws", "losses", "score")
        result = {"game": board.name, **{k: getattr(match, k) for k in fields}}
        print(json.dumps({**result, "interval": [low, high], "elo": ratings}))
        return
    print(match.line())
    print("elo: " + ", ".join(f"{name} {rating:+.0f}" for name, rating in ratings.items()))


def _positions(path: Path) -> list[tuple[int, list[int]]]:
    """Each line's number and action ids (blank: the initial position)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise IdaError(f"cannot read {path}: {type(err).__name__}") from None
    found = []
    for number, line in enumerate(lines, 1):
        actions = []
        for token in line.split():
            try:
                actions.append(int(token))
            except ValueError:
                raise IdaError(f"{path}, line {number}: {token!r} is not an action id") from None
        found.append((number, actions))
    return found


def moves(
    run: Annotated[Path, typer.Argument(help="a games run directory or checkpoint file")],
    file: Annotated[Path, typer.Argument(help="one position a line: action ids from the start")],
    sims: Annotated[
        int | None, typer.Option(help="simulations a move (default: the run's; 0: the net)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The agent's move in each position of FILE, one 'action_id action_string' a line."""
    import numpy as np

    from ida.core.engine import Engine
    from ida.domains.games.play import agent, load_run

    _check_sims(sims)
    positions = _positions(file)
    job = load_run(run)
    states = []
    for number, actions in positions:
        try:
            state = job.game.replay(actions)
        except ValueError as err:
            raise IdaError(f"{file}, line {number}: {err}") from None
        if state.is_terminal():
            raise IdaError(f"{file}, line {number}: the game has ended there")
        states.append(state)
    player = agent(job, sims)
    rng = np.random.default_rng(0)
    chosen = Engine(max_batch=job.cfg.max_batch).run([player.act(s, rng) for s in states])
    rows = [
        {
            "line": number,
            "actions": actions,
            "move": move,
            "move_string": state.action_to_string(state.current_player(), move),
        }
        for (number, actions), state, move in zip(positions, states, chosen, strict=True)
    ]
    if as_json:
        print(json.dumps(rows))
        return
    for row in rows:
        print(f"{row['move']} {row['move_string']}")


def bench_search(
    game: Annotated[str, typer.Option(help="an OpenSpiel game")] = "connect_four",
    games: Annotated[int, typer.Option(help="root searches at once")] = 256,
    sims: Annotated[int, typer.Option(help="simulations per search")] = 100,
    width: Annotated[int, typer.Option(help="net channels")] = 64,
    blocks: Annotated[int, typer.Option(help="net residual blocks")] = 4,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "cpu",
    lanes: Annotated[
        int, typer.Option(help="engine lanes (above 1: forward passes overlap search)")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Search simulations per second: batched, one game at a time, and the net's ceiling."""
    from ida.domains.games.bench import bench_search as run_bench

    for name, value in (("games", games), ("sims", sims), ("width", width), ("lanes", lanes)):
        if value < 1:
            raise IdaError(f"--{name} must be at least 1")
    if blocks < 0:
        raise IdaError("--blocks must be at least 0")
    result = run_bench(game, games, sims, width, blocks, device=device, lanes=lanes)
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        out.print(f"{key:28} {value}", highlight=False)


def add_commands(app: typer.Typer) -> None:
    """``ida play``, ``ida arena``, ``ida moves`` and ``ida bench search``."""
    app.command()(play)
    app.command()(arena)
    app.command()(moves)
    from ida.core.registry import command_group

    command_group(app, "bench", "Measure speed.").command("search")(bench_search)
