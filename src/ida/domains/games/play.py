"""The agent at the board outside training: who a player spec names (a run, a checkpoint file,
``random``, ``mcts:N``), one game against a person in the terminal, and one game of the agent
against itself with what its search saw at every move (``ida show``)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pyspiel
from rich.console import Group
from rich.text import Text

from ida.core.engine import BatchFn, Call, Engine
from ida.core.errors import IdaError
from ida.domains.games.config import OPPONENT
from ida.domains.games.game import Game
from ida.domains.games.job import GamesJob
from ida.domains.games.mcts import Node, SearchSettings, choose, make_evaluator, search
from ida.domains.games.players import NetPlayer, Player

SEATS = ("first", "second")


def load_run(path: str | Path) -> GamesJob:
    """The job of a games run, from its directory or from a checkpoint file (whose run config
    is the config.json in the file's folder)."""
    from ida.core.registry import domain_of
    from ida.core.runs.run import load_job, saved_config

    path = Path(path)
    run_dir = path.parent if path.is_file() else path
    saved = saved_config(run_dir)
    if domain_of(saved["task"]).name != "games":
        raise IdaError(f"{run_dir} holds a run of {saved['task']!r}, not of a game")
    job = load_job(path)
    assert isinstance(job, GamesJob)
    return job


def is_builtin(spec: str) -> bool:
    """``random`` or ``mcts:N``: a player that needs no run."""
    return bool(OPPONENT.match(spec))


def agent(job: GamesJob, simulations: int | None = None, name: str = "the agent") -> NetPlayer:
    """The run's agent: its teacher net with ``simulations`` per move (None: the run's
    evaluation setting; 0: the raw net)."""
    sims = job.cfg.eval.simulations if simulations is None else simulations
    return NetPlayer(job.distiller.teacher, job.game, sims, job.cfg.search, name, job.device)


# -- a person against the agent -----------------------------------------------------------


def parse_move(text: str, state: pyspiel.State) -> tuple[int | None, str]:
    """The legal move ``text`` names (an id or an action string as listed), or None and why."""
    text = text.strip()
    player = state.current_player()
    legal = state.legal_actions()
    if re.fullmatch(r"-?[0-9]+", text) and int(text) in legal:
        return int(text), ""
    named = {state.action_to_string(player, a): a for a in legal}
    if text in named:
        return named[text], ""
    if re.fullmatch(r"-?[0-9]+", text):
        return None, f"{text} is not a legal move here; type one of the ids listed"
    return None, f"{text!r} is not a move: type an id or a move string as listed"


def terminal_game(
    game: Game, opponent: Player, human: int, inp: TextIO, out: TextIO, seed: int = 0
) -> list[float] | None:
    """One game of a person (reading moves from ``inp``, seat ``human``) against ``opponent``;
    the returns, or None where the input ended first."""
    rng = np.random.default_rng(seed)
    state = game.new_state()

    def say(line: str = "", end: str = "\n") -> None:
        out.write(line + end)
        out.flush()

    say(f"{game.name}: you play {SEATS[human]}; type a move's id or its name (end input to stop)")
    while not state.is_terminal():
        player = state.current_player()
        say(f"\n{state}\n")
        if player == human:
            legal = state.legal_actions()
            say("moves: " + "  ".join(f"{a}:{state.action_to_string(player, a)}" for a in legal))
            action = None
            while action is None:
                say("your move: ", end="")
                try:
                    line = inp.readline()
                except KeyboardInterrupt:
                    line = ""
                if not line:
                    say("\nno more input: the game is left unfinished")
                    return None
                if not inp.isatty():
                    say(line.strip())  # a transcript shows the moves read
                action, why = parse_move(line, state)
                if action is None:
                    say(why)
        else:
            action = Engine().run([opponent.act(state, rng)])[0]
            say(f"{opponent.name} plays {action}:{state.action_to_string(player, action)}")
        state.apply_action(action)
    returns = state.returns()
    say(f"\n{state}\n")
    mine = returns[human]
    say("you win" if mine > 0 else f"{opponent.name} wins" if mine < 0 else "a draw")
    return returns


# -- the agent against itself, with what its search saw ------------------------------------


@dataclass
class Analysis:
    """A move's search: the move chosen, the moves by visit share (raw net: by prior, most
    first) and the value of the position for the player to move."""

    move: int
    shares: list[tuple[int, float]]
    value: float


async def analyse(
    state: pyspiel.State,
    evaluate: BatchFn,
    settings: SearchSettings,
    simulations: int,
    rng: np.random.Generator,
    counts: Counter,
) -> Analysis:
    """Search ``state`` as the agent does (no root noise; 0 simulations: the raw net)."""
    if simulations == 0:
        ((actions, priors, value),) = await Call(evaluate, [state])
        counts["net_evals"] += 1
        shares = sorted(zip(actions, priors, strict=True), key=lambda pair: -pair[1])
        return Analysis(actions[int(np.argmax(priors))], shares, value)
    root = Node(state.clone())
    s = settings.model_copy(update={"simulations": simulations})
    await search(root, s, evaluate, rng, counts, noise=False)
    total = max(sum(root.N), 1)
    pairs = zip(root.actions, root.N, strict=True)
    shares = sorted(((a, n / total) for a, n in pairs), key=lambda p: -p[1])
    return Analysis(choose(root, 0.0, rng), shares, sum(root.W) / total)


def render_selfplay(job: GamesJob, seed: int = 0, top: int = 3) -> Group:
    """One game of the agent against itself: every position, the mover, its ``top`` moves by
    visit share and the root value, then the result."""
    game, sims = job.game, job.cfg.eval.simulations
    net = job.distiller.teacher.eval()
    evaluate = make_evaluator(net, game, job.device)
    rng, counts = np.random.default_rng(seed), Counter()
    state = game.new_state()
    parts: list = [Text(f"{game.name}: the agent against itself, {sims} simulations a move\n")]
    ply = 0
    while not state.is_terminal():
        ply += 1
        player = state.current_player()
        found = Engine().run([analyse(state, evaluate, job.cfg.search, sims, rng, counts)])[0]
        best = ", ".join(
            f"{state.action_to_string(player, a)} {share:.0%}" for a, share in found.shares[:top]
        )
        parts.append(Text(f"{state}", style="bold"))
        parts.append(
            Text(
                f"move {ply}: {SEATS[player]} player to move, value {found.value:+.2f}; "
                f"top: {best} -> plays {state.action_to_string(player, found.move)}\n"
            )
        )
        state.apply_action(found.move)
    returns = state.returns()
    result = "a draw" if returns[0] == 0 else f"the {SEATS[0 if returns[0] > 0 else 1]} player wins"
    parts += [Text(f"{state}", style="bold"), Text(f"result: {result} after {ply} moves")]
    return Group(*parts)
