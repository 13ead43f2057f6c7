"""curves.png: held-out accuracy (by difficulty, where a domain reports it) and the costs,
against training steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COSTS = {
    "overseer_calls": "overseer calls",
    "labels": "ground-truth labels",
    "model_calls": "model calls",
}


def plot_curves(
    records: list[dict[str, Any]],
    path: str | Path,
    title: str = "",
    costs: dict | None = None,
    levels: list[str] | None = None,
) -> None:
    """Two panels from metrics records: accuracy overall and per level (``accuracy_by_level``,
    where present, named by ``levels``); the cumulative ``costs`` (record key -> label) the
    records hold."""
    if not records:
        return
    steps = [r["step"] for r in records]
    fig, (acc_ax, cost_ax) = plt.subplots(1, 2, figsize=(11, 4))
    count = len(records[-1].get("accuracy_by_level", []))
    names = levels or [f"level {lv}" for lv in range(count)]
    cmap = plt.get_cmap("viridis")
    for lv in range(count):
        acc_ax.plot(
            steps,
            [r["accuracy_by_level"][lv] for r in records],
            color=cmap(lv / max(count - 1, 1)),
            lw=1,
            label=names[lv],
        )
    acc_ax.plot(steps, [r["accuracy"] for r in records], color="black", lw=2.5, label="all levels")
    acc_ax.set(
        xlabel="step", ylabel="held-out accuracy", ylim=(0, 1.02), title="accuracy by difficulty"
    )
    acc_ax.legend(fontsize=7, loc="lower right")
    acc_ax.grid(alpha=0.3)
    for key, label in (costs or COSTS).items():
        if records[-1].get(key):
            cost_ax.plot(steps, [r.get(key, 0) for r in records], label=label)
    cost_ax.set(xlabel="step", ylabel="cumulative count", title="cost")
    cost_ax.legend(fontsize=8)
    cost_ax.grid(alpha=0.3)
    save_figure(fig, path, title)


def save_figure(fig, path: str | Path, title: str = "") -> None:
    """Title, lay out and write ``fig`` to ``path`` atomically (a reader never sees half a
    PNG), then close it."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
