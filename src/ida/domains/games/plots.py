"""curves.png for a games run: the score against each yardstick over training time (the agent
with search solid, the raw net dashed), and the share of suboptimal moves where the game is
solved, or else the losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from ida.core.runs.plots import save_figure


def plot_games(records: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    if not records:
        return
    minutes = [r.get("train_seconds", 0) / 60 for r in records]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    keys = [k for k in records[-1] if "_vs_" in k]
    cmap = plt.get_cmap("tab10")
    rivals = sorted({k.split("_vs_", 1)[1] for k in keys})
    for key in keys:
        agent, rival = key.split("_vs_", 1)
        left.plot(
            minutes,
            [r.get(key, float("nan")) for r in records],
            color=cmap(rivals.index(rival) % 10),
            ls="-" if agent == "search" else "--",
            label=f"{'net + search' if agent == 'search' else 'net alone'} vs {rival}",
        )
    left.set(xlabel="training time (minutes)", ylabel="score (wins + draws/2)", ylim=(-0.02, 1.02))
    left.set_title("against the yardsticks")
    left.legend(fontsize=7, loc="best")
    left.grid(alpha=0.3)
    solved = [k for k in ("suboptimal_search", "suboptimal_net") if k in records[-1]]
    shown = solved or [k for k in ("policy_loss", "value_loss") if k in records[-1]]
    for key in shown:
        right.plot(minutes, [r.get(key, float("nan")) for r in records], label=key)
    right.set(xlabel="training time (minutes)")
    right.set_title("suboptimal moves (share of all positions)" if solved else "losses")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    save_figure(fig, path, title)
