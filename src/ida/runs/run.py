"""A run directory: config, atomic checkpoint, metrics, curves and summary; resumable.

DIR/config.json      the resolved config (a resumed run uses it)
DIR/checkpoint.pt    everything needed to resume, written atomically at each evaluation
DIR/metrics.jsonl    one line per evaluation
DIR/curves.png       held-out accuracy by difficulty and overseer calls against steps
DIR/summary.json     the headline numbers, written when training ends
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from ida.errors import IdaError
from ida.runs.build import Job, build_job
from ida.runs.checkpoint import load_checkpoint, save_checkpoint
from ida.runs.config import TrainConfig, make_config
from ida.runs.metrics import MetricsLog
from ida.runs.plots import plot_curves

CONFIG, CHECKPOINT, METRICS, CURVES, SUMMARY = (
    "config.json",
    "checkpoint.pt",
    "metrics.jsonl",
    "curves.png",
    "summary.json",
)


def saved_config(run_dir: Path) -> dict:
    """The config a run directory was started with."""
    path = run_dir / CONFIG
    if not path.is_file():
        raise IdaError(f"{run_dir} holds no ida run (no {CONFIG})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise IdaError(f"corrupt {path}: not JSON") from None


def load_job(run_dir: str | Path) -> Job:
    """The job of a finished or interrupted run, restored from its checkpoint."""
    run_dir = Path(run_dir)
    cfg = make_config(saved_config(run_dir), device="auto")
    state = load_checkpoint(run_dir / CHECKPOINT)
    job = build_job(cfg)
    _restore(job, state, run_dir)
    return job


def _restore(job: Job, state: dict, run_dir: Path) -> None:
    mismatch = _model_mismatch(job.model, state.get("model"))
    if mismatch is not None:
        raise IdaError(
            f"checkpoint {run_dir / CHECKPOINT} does not fit this version's model "
            f"({mismatch}): written by another version of ida"
        )
    try:
        job.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise IdaError(f"corrupt checkpoint {run_dir / CHECKPOINT}: {type(err).__name__}") from None


def _model_mismatch(model: nn.Module, saved: object) -> str | None:
    """The first parameter a saved model state lacks or adds against ``model`` (None: neither,
    or no state to compare, which loading then reports as corrupt)."""
    if not isinstance(saved, dict):
        return None
    expected = model.state_dict()
    missing = [name for name in expected if name not in saved]
    if missing:
        return f"missing parameter {missing[0]}"
    unexpected = [name for name in saved if name not in expected]
    return f"unexpected parameter {unexpected[0]}" if unexpected else None


def open_run(
    run_dir: str | Path, cfg: TrainConfig | None, resume: bool, steps: int | None = None
) -> tuple[TrainConfig, dict | None]:
    """Check the directory and settle the config, without touching anything in it yet."""
    run_dir = Path(run_dir)
    if resume:
        saved = saved_config(run_dir)
        if cfg is not None and cfg.task != saved.get("task"):
            raise IdaError(f"{run_dir} holds a run of {saved.get('task')!r}, not {cfg.task!r}")
        cfg = make_config(saved, steps=steps)
        ckpt = run_dir / CHECKPOINT
        return cfg, load_checkpoint(ckpt) if ckpt.exists() else None
    if run_dir.exists() and any((run_dir / f).exists() for f in (CONFIG, CHECKPOINT, METRICS)):
        raise IdaError(
            f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise IdaError(f"{run_dir} is a file, not a directory")
    assert cfg is not None
    return cfg, None


def train(
    cfg: TrainConfig | None,
    run_dir: str | Path,
    resume: bool = False,
    steps: int | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train (or resume) a run in ``run_dir`` and return its summary."""
    run_dir = Path(run_dir)
    cfg, state = open_run(run_dir, cfg, resume, steps)
    job = build_job(cfg)
    metrics = MetricsLog(run_dir / METRICS)
    elapsed = 0.0
    if state is not None:
        _restore(job, state, run_dir)
        elapsed = state.get("train_seconds", 0.0)
        metrics.trim(job.loop.step)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG).write_text(json.dumps(cfg.model_dump(), indent=2) + "\n")
    console = console or Console(stderr=True)
    started = time.perf_counter()

    def seconds() -> float:
        return elapsed + time.perf_counter() - started

    def on_eval(result: dict[str, Any]) -> None:
        record = {
            "step": job.loop.step,
            **result,
            "level": job.curriculum.level,
            **job.costs(),
            "train_seconds": round(seconds(), 2),
            **job.loop.last,
            **job.imitation_metrics(),
        }
        metrics.append(record)
        save_checkpoint(run_dir / CHECKPOINT, {**job.state_dict(), "train_seconds": seconds()})
        plot_curves(
            metrics.read(), run_dir / CURVES, f"{cfg.task} ({run_label(cfg)}, size {job.task.size})"
        )
        progress.update(bar, accuracy=result["accuracy"])
        by_level = " ".join(f"{a:.2f}" for a in result["accuracy_by_level"])
        progress.console.print(
            f"step {job.loop.step:>6}  accuracy {result['accuracy']:.3f}  by level [{by_level}]  "
            f"curriculum level {job.curriculum.level}  {_cost_text(cfg.mode, job.costs())}"
            + (f"  kl {job.loop.last['kl']:.3f}" if "kl" in job.loop.last else "")
            + (
                "  H' accuracy by level ["
                + " ".join(f"{a:.2f}" for a in record["imitation_accuracy"])
                + "]"
                if "imitation_accuracy" in record
                else ""
            )
            + (
                f"  adversary/entropy spearman {result['adversary_spearman']:.2f}"
                f"/{result['entropy_spearman']:.2f}"
                if "adversary_spearman" in result
                else ""
            )
        )

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "acc {task.fields[accuracy]:.3f} level {task.fields[level]} {task.fields[cost]}"
        ),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(
            f"{cfg.task} {run_label(cfg)}",
            total=cfg.steps,
            completed=job.loop.step,
            accuracy=0.0,
            level=job.curriculum.level,
            cost="",
        )

        def on_step(loop) -> None:
            if loop.step % 10 == 0 or loop.step == cfg.steps:
                progress.update(
                    bar,
                    completed=loop.step,
                    level=job.curriculum.level,
                    cost=_cost_text(cfg.mode, job.costs()),
                )

        job.loop.run(cfg.steps, job.rng, cfg.eval_every, on_eval, on_step)
    return write_summary(job, run_dir, seconds())


def run_label(cfg: TrainConfig) -> str:
    """The mode, and the distiller and overseer where they are not the defaults."""
    parts = [cfg.mode]
    if cfg.distill != "imitation":
        parts.append(cfg.distill + (" (learned approval)" if cfg.approval == "learned" else ""))
    if cfg.overseer != "exact":
        parts.append(f"{cfg.overseer} overseer")
    return ", ".join(parts)


def _cost_text(mode: str, costs: dict[str, int]) -> str:
    if mode == "supervised":
        return f"labels {costs['labels']:,}"
    return f"H calls {costs['overseer_calls']:,}"


def write_summary(job: Job, run_dir: Path, train_seconds: float) -> dict[str, Any]:
    records = MetricsLog(run_dir / METRICS).read()
    last = records[-1] if records else {**job.evaluate(), "step": job.loop.step}
    summary = {
        "task": job.cfg.task,
        "mode": job.cfg.mode,
        "distill": job.cfg.distill,
        "overseer": job.cfg.overseer,
        "approval": job.cfg.approval,
        "size": job.task.size,
        "steps": job.loop.step,
        "accuracy": last["accuracy"],
        "accuracy_by_level": last["accuracy_by_level"],
        "level": job.curriculum.level,
        **job.costs(),
        "train_seconds": round(train_seconds, 2),
        "seed": job.cfg.seed,
        **{
            k: last[k]
            for k in (
                "kl",
                "approval_loss",
                "adversary_spearman",
                "entropy_spearman",
                "imitation_accuracy",
                "h_share",
            )
            if k in last
        },
    }
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary
