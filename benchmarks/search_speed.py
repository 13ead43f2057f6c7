"""Search speed against alpha-zero-general: batched PUCT in the engine vs one board at a time.

    git clone https://github.com/suragnair/alpha-zero-general /tmp/azg
    python benchmarks/search_speed.py --azg /tmp/azg --json

alpha-zero-general (https://github.com/suragnair/alpha-zero-general) is not copied into this
repository and is not a dependency: it is imported, at run time, from the folder ``--azg``
names. Its ``MCTS`` calls the net one board at a time (``NNetWrapper.predict``, batch 1). Here
both searches play 8x8 Othello (its ``othello.OthelloGame(8)``, OpenSpiel's ``"othello"`` for
ida; 65 actions each, ``row * 8 + col`` and 64 = pass, checked below) with the same net: one
``othello.pytorch.OthelloNNet`` module per size (``--channels``), randomly initialised (seeded),
in eval mode, shared by both.

- alpha-zero-general: ``MCTS.getActionProb(canonicalBoard, temp=1)`` with ``numMCTSSims =
  --sims`` from the initial position, a move drawn from the probabilities (as its ``Coach``
  does), for the first ``--moves`` moves of a game, one game after another (a fresh ``MCTS``
  each, its tree kept across a game's moves, as in its self-play) until ``--budget`` seconds
  are spent. Simulations = ``numMCTSSims`` per call.
- ida: ``ida.domains.games.mcts.search`` on ``--games`` roots at once in one
  ``ida.core.engine.Engine`` of ``--lanes`` lanes (1 by default; with 2, one half of the games'
  batch is computed in the engine's worker thread while the other half's searches step;
  ``--sims`` simulations per move, ``--leaves`` leaves in flight per game: 1, exact PUCT, by
  default; above 1 with a virtual loss of 1), no root noise, ``c_puct`` as alpha-zero-general's,
  subtree reuse), moves drawn at temperature 1 from the visit counts, for the first ``--moves``
  moves or fewer once ``--budget`` is spent (one ``Engine.run`` per move). The batch function
  wraps the same module: OpenSpiel states -> alpha-zero-general's canonical board (+1 the
  mover's stones, -1 the opponent's, 0 empty: ida's encoding of the state, whose observation
  planes are empty / the mover's / the opponent's), one batched forward under
  ``torch.inference_mode``, softmax over the legal moves (``mcts.legal_priors``), the value as
  is. Where one move of ``--games`` searches would take more than about twice ``--budget``,
  fewer games are searched (the table says how many).
- The net alone: its batched forward at ida's mean batch size, on the same boards, at batch 1
  and at ``--games`` times ``--leaves``, so ida's evaluations per second can be read as a share
  of what the net can do.

Each is timed ``--repeats`` times in alternation and the fastest kept (the machine may be
shared); sims per CPU-second are reported beside sims per second.

Before timing, random OpenSpiel games are replayed in alpha-zero-general's rules: legal move
sets, boards after each move and the end of the game must agree, and ida's batch function must
give alpha-zero-general's priors and value (``predict``, masked and renormalised) for the same
positions.

Patched at run time (no file of alpha-zero-general is edited): its games'
``stringRepresentation`` calls ``ndarray.tostring()``, gone in numpy 2: ``OthelloGame``'s is
replaced by one that returns ``board.tobytes()`` (the same bytes); ``np.int``, gone in numpy
1.24 and used by its connect4 code (not by Othello), is set to ``int``; ``tqdm``, imported by
``NNet.py`` for training only, is stubbed when it is not installed. Torch threads:
``--threads`` (2), for both.

On 2 CPU cores ``--threads 1 --lanes 2`` puts the forward on one core and the searches on the
other (the batch function is ``Staged``: only its forward runs in the worker); at 32 channels
that arrangement brings ida to over 10x alpha-zero-general at over 70% of the net's batched
throughput (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pyspiel
import torch

from ida.core.engine import Engine, Staged
from ida.domains.games.game import Game
from ida.domains.games.mcts import Node, SearchSettings, choose, legal_priors, search

HERE = Path(__file__).parent
DEFAULT_JSON = HERE / "results_search_speed.json"
N = 8  # board side


class AZG:
    """alpha-zero-general's Othello pieces, imported from its folder and patched in memory."""

    def __init__(self, root: Path):
        if not (root / "MCTS.py").is_file() or not (root / "othello" / "pytorch").is_dir():
            sys.exit(f"--azg {root}: not an alpha-zero-general checkout (no MCTS.py, othello/)")
        # its modules import each other as top-level modules (utils, Game, NeuralNet, MCTS)
        sys.path.insert(0, str(root))
        if not hasattr(np, "int"):  # removed in numpy 1.24; its connect4 code still uses it
            np.int = int  # type: ignore[attr-defined]
        try:
            import tqdm  # noqa: F401  (NNet.py imports it for its training loop only)
        except ImportError:
            stub = types.ModuleType("tqdm")
            stub.tqdm = lambda iterable, **_: iterable  # type: ignore[attr-defined]
            sys.modules["tqdm"] = stub
        from MCTS import MCTS
        from othello.OthelloGame import OthelloGame
        from othello.pytorch import NNet
        from utils import dotdict

        # ndarray.tostring() is gone in numpy 2; tobytes() returns the same bytes
        OthelloGame.stringRepresentation = lambda self, board: board.tobytes()
        self.MCTS, self.NNet, self.dotdict = MCTS, NNet, dotdict
        self.game = OthelloGame(N)
        self.commit = _git_commit(root)

    def wrapper(self, channels: int, seed: int):
        """Its ``NNetWrapper`` with a fresh ``OthelloNNet`` of ``channels``, in eval mode."""
        self.NNet.args.num_channels = channels  # its other args: dropout 0.3 (off in eval)
        self.NNet.args.cuda = False
        torch.manual_seed(seed)
        wrapper = self.NNet.NNetWrapper(self.game)
        wrapper.nnet.eval()
        return wrapper


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


# ---------------------------------------------------------------- OpenSpiel <-> alpha-zero-general


def agree(condition: bool, what: str) -> None:
    """The two games (or nets) must agree; the benchmark stops where they do not."""
    if not condition:
        sys.exit(f"OpenSpiel and alpha-zero-general disagree: {what}")


OTHELLO = Game("othello")


def canonical_boards(states: Sequence[pyspiel.State]) -> np.ndarray:
    """alpha-zero-general's canonical form: ``(B, 8, 8)`` float32, +1 the mover's stones, -1
    the opponent's. OpenSpiel's othello observation for a player is planes empty, the
    player's stones, the opponent's; ida's encoding reads it for the mover (and adds a fourth
    plane, whose move it is)."""
    x = OTHELLO.encode(states)
    return x[:, 1] - x[:, 2]


def absolute_boards(states: Sequence[pyspiel.State]) -> np.ndarray:
    """``(B, 8, 8)`` float32: +1 black (player 0, alpha-zero-general's player 1), -1 white;
    the states may have ended (black's observation: planes empty, black, white)."""
    obs = np.array([s.observation_tensor(0) for s in states], dtype=np.float32)
    obs = obs.reshape(len(states), 3, N, N)
    return obs[:, 1] - obs[:, 2]


def make_evaluate(net: torch.nn.Module, timer: Counter):
    """ida's batch function over ``net`` (alpha-zero-general's OthelloNNet): states -> (legal
    actions, their priors, value), as ``mcts.make_evaluator`` does for ida's own nets (its
    ``legal_priors``; the net's log-softmax over all 65 actions renormalised over the legal)."""

    def prepare(states):
        start = time.perf_counter()
        boards = torch.from_numpy(canonical_boards(states))
        timer["around_forward_s"] += time.perf_counter() - start
        return boards

    @torch.inference_mode()
    def compute(boards):
        start = time.perf_counter()
        out = net(boards)  # log-softmax over all 65 actions, tanh value
        timer["forward_s"] += time.perf_counter() - start  # the worker's only key
        return out

    @torch.inference_mode()
    def finish(states, _boards, out):
        start = time.perf_counter()
        answers = legal_priors(states, *out)
        timer["around_forward_s"] += time.perf_counter() - start
        return answers

    return Staged(prepare, compute, finish)


def check_rules(azg: AZG, games: int, seed: int) -> tuple[dict, list[pyspiel.State]]:
    """Replay random OpenSpiel games in alpha-zero-general's rules; every move must agree.
    Returns the counts and the positions seen (the boards the forward timings use)."""
    spiel = pyspiel.load_game("othello")
    game = azg.game
    rng = np.random.default_rng(seed)
    positions, passes, ends = [], 0, 0
    for _ in range(games):
        state = spiel.new_initial_state()
        board, player = game.getInitBoard(), 1  # its player 1 moves first: OpenSpiel's black
        while True:
            agree(np.array_equal(board, absolute_boards([state])[0]), f"boards at\n{state}")
            canonical = game.getCanonicalForm(board, player)
            ended = game.getGameEnded(canonical, 1) != 0
            agree(ended == state.is_terminal(), f"whether the game has ended at\n{state}")
            if ended:
                ends += 1
                break
            agree(player == (1 if state.current_player() == 0 else -1), "who moves")
            agree(np.array_equal(canonical, canonical_boards([state])[0]), "canonical boards")
            legal = state.legal_actions()
            valid = list(np.flatnonzero(game.getValidMoves(canonical, 1)))
            agree(legal == valid, f"legal moves {legal} and {valid} at\n{state}")
            passes += legal == [N * N]
            positions.append(state.clone())
            action = int(rng.choice(legal))
            state.apply_action(action)
            board, player = game.getNextState(board, player, action)
    return {"games": games, "positions": len(positions), "passes": passes, "ends": ends}, positions


def check_net(azg: AZG, wrapper, positions: list[pyspiel.State], count: int) -> float:
    """ida's batch function against alpha-zero-general's ``predict`` (masked, renormalised):
    the largest difference in any prior or value over ``count`` positions."""
    chosen = positions[:: max(1, len(positions) // count)][:count]
    ours = make_evaluate(wrapper.nnet, Counter())(chosen)
    worst = 0.0
    for state, (acts, priors, value), canonical in zip(
        chosen, ours, canonical_boards(chosen), strict=True
    ):
        valid = azg.game.getValidMoves(canonical, 1)
        agree(acts == list(np.flatnonzero(valid)), f"legal moves at\n{state}")
        pi, v = wrapper.predict(canonical.astype(np.float64))
        pi = pi * valid
        pi = pi / pi.sum()
        worst = max(worst, float(np.abs(pi[acts] - np.array(priors)).max()))
        worst = max(worst, abs(float(v[0]) - value))
    return worst


# ---------------------------------------------------------------- the three measurements


def time_azg(azg: AZG, wrapper, sims: int, c_puct: float, moves: int, budget: float, seed: int):
    """alpha-zero-general's self-play loop (as its ``Coach``): a fresh ``MCTS`` per game,
    ``getActionProb`` per move, the first ``moves`` moves of games until ``budget`` is spent."""
    game = azg.game
    np.random.seed(seed)
    timer = Counter()
    predict = wrapper.predict

    def timed_predict(board):
        start = time.perf_counter()
        out = predict(board)
        timer["predict_s"] += time.perf_counter() - start
        timer["net_evals"] += 1
        return out

    wrapper.predict = timed_predict
    settings = azg.dotdict({"numMCTSSims": sims, "cpuct": c_puct})
    games = played = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < budget:
        mcts = azg.MCTS(game, wrapper, settings)
        board, player = game.getInitBoard(), 1
        for _ in range(moves):
            canonical = game.getCanonicalForm(board, player)
            probs = mcts.getActionProb(canonical, temp=1)
            action = np.random.choice(len(probs), p=probs)
            board, player = game.getNextState(board, player, action)
            played += 1
            if game.getGameEnded(board, player) != 0:
                break
        games += 1
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    wrapper.predict = predict
    simulations = played * sims
    return {
        "games": games,
        "moves": played,
        "simulations": simulations,
        "net_evals": timer["net_evals"],
        "seconds": seconds,
        "sims_per_s": simulations / seconds,
        "sims_per_cpu_s": simulations / cpu,
        "net_share_of_time": timer["predict_s"] / seconds,
        "predict_per_s": timer["net_evals"] / timer["predict_s"],
    }


def time_ida(
    net,
    sims: int,
    c_puct: float,
    games: int,
    moves: int,
    budget: float,
    seed: int,
    leaves: int = 1,
    lanes: int = 1,
    switch_interval: float = 1e-4,
):
    """``games`` searches at once in one engine of ``lanes`` lanes (Python's switch interval
    ``switch_interval`` while they run), move after move (one ``Engine.run`` each), ``leaves``
    leaves in flight per game."""
    settings = SearchSettings(simulations=sims, c_puct=c_puct, unvisited_value=0.0, leaves=leaves)
    spiel = pyspiel.load_game("othello")
    timer, counts = Counter(), Counter()
    evaluate = make_evaluate(net, timer)
    engine = Engine(lanes=lanes, switch_interval=switch_interval)
    roots = [Node(spiel.new_initial_state()) for _ in range(games)]
    rngs = [np.random.default_rng([seed, i]) for i in range(games)]

    async def one(i: int) -> None:
        await search(roots[i], settings, evaluate, rngs[i], counts, noise=False)

    played = 0
    start, cpu = time.perf_counter(), time.process_time()
    while played < moves and time.perf_counter() - start < budget:
        engine.run([one(i) for i in range(games)])
        played += 1
        roots = [
            r if r.returns is not None else r.child(choose(r, 1.0, g))
            for r, g in zip(roots, rngs, strict=True)
        ]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "games": games,
        "moves": played,
        "simulations": counts["simulations"],
        "net_evals": counts["net_evals"],
        "seconds": seconds,
        "sims_per_s": counts["simulations"] / seconds,
        "sims_per_cpu_s": counts["simulations"] / cpu,
        "net_evals_per_s": counts["net_evals"] / seconds,
        "batches": engine.stats.batches,
        "mean_batch": engine.stats.mean_batch,
        "forward_share_of_time": timer["forward_s"] / seconds,
        "evaluate_share_of_time": (timer["forward_s"] + timer["around_forward_s"]) / seconds,
    }


def time_forward(net, positions: list[pyspiel.State], batch: int, seconds: float) -> dict:
    """Evaluations per second (and per CPU-second) of ``net`` alone on ``batch`` boards
    prepared in advance."""
    chosen = [positions[i % len(positions)] for i in range(batch)]
    boards = torch.from_numpy(canonical_boards(chosen))
    with torch.inference_mode():
        for _ in range(3):  # warm up
            net(boards)
        calls, start, cpu = 0, time.perf_counter(), time.process_time()
        while calls < 3 or time.perf_counter() - start < seconds:
            net(boards)
            calls += 1
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"batch": batch, "per_s": calls * batch / wall, "per_cpu_s": calls * batch / cpu}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(azg: AZG, channels: int, positions, args) -> dict:
    """One net size: ``--repeats`` rounds of (azg, ida, the net batched, the net at batch 1),
    each the same work; the best of each is reported (the machine is shared), all are kept."""
    wrapper = azg.wrapper(channels, args.seed)
    net = wrapper.nnet
    row: dict = {"channels": channels, "load_before": load()}
    games = args.games
    row["forward_games"] = time_forward(net, positions, games * args.leaves, args.forward_seconds)
    estimate = row["forward_games"]["per_s"]
    # ida's evaluations run at about 0.6 of the net alone or faster: where one move of all
    # games would take over twice the budget, fewer games (a multiple of 32, 32 at least)
    if games * args.sims / (0.6 * estimate) > 2 * args.budget:
        games = max(32, int(2 * args.budget * 0.6 * estimate / args.sims) // 32 * 32)
    runs: dict[str, list[dict]] = {"azg": [], "ida": [], "forward_batched": [], "forward_1": []}
    for _ in range(args.repeats):
        runs["azg"].append(
            time_azg(azg, wrapper, args.sims, args.c_puct, args.moves, args.budget, args.seed)
        )
        runs["ida"].append(
            time_ida(
                net,
                args.sims,
                args.c_puct,
                games,
                args.moves,
                args.budget,
                args.seed,
                args.leaves,
                args.lanes,
                args.switch_interval,
            )
        )
        batch = max(1, round(runs["ida"][0]["mean_batch"]))  # the engine's mean batch
        runs["forward_batched"].append(time_forward(net, positions, batch, args.forward_seconds))
        runs["forward_1"].append(time_forward(net, positions, 1, args.forward_seconds))
    for key, runs_of in runs.items():
        field = "per_s" if key.startswith("forward") else "sims_per_s"
        row[key] = max(runs_of, key=lambda run, field=field: run[field])
    a, i, f = row["azg"], row["ida"], row["forward_batched"]
    row["ratio_ida_over_azg"] = i["sims_per_s"] / a["sims_per_s"]
    row["ratio_per_cpu_s"] = i["sims_per_cpu_s"] / a["sims_per_cpu_s"]
    row["ida_share_of_forward"] = i["net_evals_per_s"] / f["per_s"]
    # the most any batched search could reach here: every simulation one batched evaluation
    row["ceiling_ratio"] = f["per_s"] / a["sims_per_s"]
    row["load_after"] = load()
    row["runs"] = runs
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| channels | azg sims/s | ida sims/s (games) | ida / azg | ida / azg per CPU-second "
        "| net alone, evals/s at batch 1 / at ida's batch (/ at --games) "
        "| ida's share of batched "
        "| azg's time in predict | ida's time in the forward |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        a, i, f1, fb, fg = (
            r[k] for k in ("azg", "ida", "forward_1", "forward_batched", "forward_games")
        )
        at_games = f"/ {fg['per_s']:,.0f} ({fg['batch']}) " if fg["batch"] != fb["batch"] else ""
        lines.append(
            f"| {r['channels']} | {a['sims_per_s']:,.1f} | {i['sims_per_s']:,.0f} ({i['games']}) "
            f"| **{r['ratio_ida_over_azg']:.1f}x** | {r['ratio_per_cpu_s']:.1f}x "
            f"| {f1['per_s']:,.0f} / {fb['per_s']:,.0f} ({fb['batch']}) {at_games}"
            f"| {r['ida_share_of_forward']:.0%} | {a['net_share_of_time']:.0%} "
            f"| {i['forward_share_of_time']:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--azg", type=Path, required=True, help="alpha-zero-general checkout")
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--sims", type=int, default=100, help="simulations per move, both")
    parser.add_argument("--moves", type=int, default=4, help="moves of each game timed")
    parser.add_argument("--games", type=int, default=256, help="ida's searches at once")
    parser.add_argument(
        "--leaves", type=int, default=1, help="ida's leaves in flight per game (virtual loss)"
    )
    parser.add_argument(
        "--lanes",
        type=int,
        default=1,
        help="ida's engine lanes (above 1: forward passes overlap the other lanes' search)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=1e-4,
        help="Python's switch interval in seconds while ida's lanes run (with --lanes above 1)",
    )
    parser.add_argument("--c-puct", type=float, default=1.0, help="alpha-zero-general's default")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per search timing")
    parser.add_argument("--repeats", type=int, default=2, help="timings of each, best kept")
    parser.add_argument("--forward-seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-games", type=int, default=20, help="rule-check playouts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json",
        nargs="?",
        const=DEFAULT_JSON,
        type=Path,
        help=f"write the numbers (default file {DEFAULT_JSON}; one run kept per --threads)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    azg = AZG(args.azg.resolve())

    rules, positions = check_rules(azg, args.check_games, args.seed)
    print(f"rules agree: {rules}", flush=True)
    rows = []
    for channels in args.channels:
        if not rows:
            worst = check_net(azg, azg.wrapper(channels, args.seed), positions, 64)
            print(f"net: ida's batch function vs predict, largest difference {worst:.1e}")
            rules["net_max_abs_diff"] = worst
        rows.append(measure(azg, channels, positions, args))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "runs"}), flush=True)
    print(table(rows))
    if args.json:
        result = {
            "date": date.today().isoformat(),
            "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "threads": args.threads,
            "azg_commit": azg.commit,
            "settings": {
                k: v for k, v in vars(args).items() if k not in ("azg", "json", "channels")
            },
            "check": rules,
            "rows": rows,
        }
        # one file keeps a run per thread count: this one replaces its own count's
        kept = json.loads(args.json.read_text()) if args.json.exists() else {}
        kept = {"runs": kept.get("runs", {}) if isinstance(kept.get("runs"), dict) else {}}
        kept["runs"][f"threads={args.threads}"] = result
        args.json.write_text(json.dumps(kept, indent=1) + "\n")
        print(f"wrote {args.json} (runs: {', '.join(kept['runs'])})")


if __name__ == "__main__":
    main()
