"""Search throughput: simulations per second of ``games`` root searches at once in one engine,
of the same search one game at a time, and the net's pure batched forward throughput at the
engine's mean batch size (the ceiling the batched search approaches)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch

from ida.core.engine import Engine
from ida.domains.games.game import Game
from ida.domains.games.mcts import Node, SearchSettings, make_evaluator, search
from ida.domains.games.net import NetSettings, PolicyValueNet


class _Timed(torch.nn.Module):
    """``net`` with the seconds spent in its forward passes added up."""

    def __init__(self, net: torch.nn.Module, device: torch.device):
        super().__init__()
        self.net, self.device, self.seconds = net, device, 0.0

    def forward(self, boards: torch.Tensor):
        started = time.perf_counter()
        found = self.net(boards)
        _sync(self.device)
        self.seconds += time.perf_counter() - started
        return found


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _searches(game, net, settings, seeds, device, lanes=1) -> tuple[float, Counter, Engine]:
    """Search the initial state once per seed, all in one engine of ``lanes`` lanes: seconds,
    counts, engine."""
    evaluate = make_evaluator(net, game, device)
    counts: Counter = Counter()

    async def one(seed: int) -> None:
        root = Node(game.new_state())
        await search(root, settings, evaluate, np.random.default_rng(seed), counts)

    engine = Engine(lanes=lanes)
    started = time.perf_counter()
    engine.run([one(seed) for seed in seeds])
    return time.perf_counter() - started, counts, engine


def bench_search(
    game_name: str = "connect_four",
    games: int = 256,
    simulations: int = 100,
    width: int = 64,
    blocks: int = 4,
    serial_games: int = 4,
    device: str = "cpu",
    seed: int = 0,
    lanes: int = 1,
) -> dict:
    """Time ``games`` searches of ``simulations`` each from the initial state (a fresh random
    net), batched (in an engine of ``lanes`` lanes) and one game at a time, and the net's
    forward pass alone."""
    from ida.core.device import resolve_device

    dev = resolve_device(device)
    torch.manual_seed(seed)
    game = Game(game_name)
    shape = NetSettings(width=width, blocks=blocks)
    net = PolicyValueNet(game.planes, game.height, game.width, game.actions, shape).to(dev).eval()
    timed = _Timed(net, dev)
    settings = SearchSettings(simulations=simulations)
    _searches(game, net, settings.model_copy(update={"simulations": 2}), range(2), dev)  # warm up

    seconds, counts, engine = _searches(game, timed, settings, range(games), dev, lanes)
    batched = counts["simulations"] / seconds
    mean_batch = engine.stats.mean_batch

    serial = min(serial_games, games)
    serial_seconds, serial_sims = 0.0, 0
    for i in range(serial):
        s, c, _ = _searches(game, net, settings, [games + i], dev)
        serial_seconds += s
        serial_sims += c["simulations"]
    one_at_a_time = serial_sims / serial_seconds

    batch = max(int(round(mean_batch)), 1)
    boards = torch.from_numpy(game.encode([game.new_state()] * batch)).to(dev)
    with torch.inference_mode():
        net(boards)
        _sync(dev)
        calls, started = 0, time.perf_counter()
        while calls < 5 or time.perf_counter() - started < 0.2:
            net(boards)
            calls += 1
        _sync(dev)
        forward = calls * batch / (time.perf_counter() - started)
    return {
        "game": game.name,
        "device": str(dev),
        "games": games,
        "lanes": lanes,
        "simulations": simulations,
        "net": f"width {width}, {blocks} blocks",
        "batched_sims_per_s": round(batched, 1),
        "one_at_a_time_sims_per_s": round(one_at_a_time, 1),
        "one_at_a_time_games": serial,
        "speedup": round(batched / one_at_a_time, 2),
        "mean_batch": round(mean_batch, 1),
        "search_net_evals_per_s": round(counts["net_evals"] / seconds, 1),
        "forward_evals_per_s": round(forward, 1),
        "share_of_forward": round(batched / forward, 3),
        "outside_net_share": round(1 - timed.seconds / seconds, 3),
    }
