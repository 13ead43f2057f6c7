"""A run directory: config, atomic checkpoint, metrics, curves and summary; resumable.

DIR/config.json      the resolved config (a resumed run uses it)
DIR/checkpoint.pt    everything needed to resume, written atomically at each evaluation
DIR/metrics.jsonl    one line per evaluation
DIR/curves.png       held-out accuracy and costs against steps
DIR/summary.json     the headline numbers, written when training ends

Nothing here knows a domain: the run's task names it (``ida.core.registry``), and the domain
builds the ``Job`` that is trained, evaluated and checkpointed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from ida import __version__
from ida.core.errors import IdaError
from ida.core.loop import Workers
from ida.core.registry import domain_of
from ida.core.runs.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from ida.core.runs.config import RunConfig, make_config
from ida.core.runs.job import Job
from ida.core.runs.metrics import MetricsLog

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
        saved = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise IdaError(f"corrupt {path}: not JSON") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("task"), str):
        raise IdaError(f"corrupt {path}: no task")
    return saved


def resolve(saved: dict, **overrides) -> RunConfig:
    """The validated config of a saved run, in its task's domain."""
    return make_config(domain_of(saved["task"]).config(), saved, **overrides)


def build(cfg: RunConfig) -> Job:
    """A fresh job for ``cfg``, built by the domain that owns its task."""
    return domain_of(cfg.task).build(cfg)


def load_job(path: str | Path) -> Job:
    """The job of a finished or interrupted run, restored from its checkpoint: ``path`` is the
    run directory, or a checkpoint file (a copy kept from some moment of training, say) whose
    run's config.json is in the same folder."""
    path = Path(path)
    run_dir, ckpt = (path.parent, path) if path.is_file() else (path, path / CHECKPOINT)
    saved = saved_config(run_dir)
    state = load_checkpoint(ckpt)
    _check_format(state, ckpt)
    job = build(resolve(saved, device="auto"))
    _restore(job, state, ckpt)
    return job


def _check_format(state: dict, ckpt: Path) -> None:
    """A checkpoint of another layout is a one-line error, not a traceback."""
    written = state.get("format")
    if written == FORMAT:
        return
    by = (
        "an older ida (before 0.2)" if written is None else f"an ida of checkpoint format {written}"
    )
    raise IdaError(
        f"checkpoint {ckpt} was written by {by} that this one ({__version__}, "
        f"format {FORMAT}) cannot read: train a new run"
    )


def _restore(job: Job, state: dict, ckpt: Path) -> None:
    """Load a checkpoint's ``state`` (its format already checked) into a fresh ``job``."""
    mismatch = _model_mismatch(job.model, state.get("model"))
    if mismatch is not None:
        raise IdaError(
            f"checkpoint {ckpt} does not fit this version's model "
            f"({mismatch}): written by another version of ida"
        )
    try:
        job.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise IdaError(f"corrupt checkpoint {ckpt}: {type(err).__name__}") from None


def _model_mismatch(model: nn.Module, saved: object) -> str | None:
    """The first parameter a saved model state lacks, adds or shapes otherwise against
    ``model`` (None: none, or no state to compare, which loading then reports as corrupt)."""
    if not isinstance(saved, dict):
        return None
    expected = model.state_dict()
    missing = [name for name in expected if name not in saved]
    if missing:
        return f"missing parameter {missing[0]}"
    unexpected = [name for name in saved if name not in expected]
    if unexpected:
        return f"unexpected parameter {unexpected[0]}"
    for name, tensor in expected.items():
        shape = getattr(saved[name], "shape", None)
        if shape is not None and tuple(shape) != tuple(tensor.shape):
            return f"{name} is {tuple(shape)} there, {tuple(tensor.shape)} here"
    return None


def open_run(
    run_dir: str | Path, cfg: RunConfig | None, resume: bool, steps: int | None = None
) -> tuple[RunConfig, dict | None]:
    """Check the directory and settle the config, without touching anything in it yet."""
    run_dir = Path(run_dir)
    if resume:
        saved = saved_config(run_dir)
        if cfg is not None and cfg.task != saved["task"]:
            raise IdaError(f"{run_dir} holds a run of {saved['task']!r}, not {cfg.task!r}")
        ckpt = run_dir / CHECKPOINT
        state = load_checkpoint(ckpt) if ckpt.exists() else None
        if state is not None:
            _check_format(state, ckpt)
        return resolve(saved, steps=steps), state
    if run_dir.exists() and any((run_dir / f).exists() for f in (CONFIG, CHECKPOINT, METRICS)):
        raise IdaError(
            f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise IdaError(f"{run_dir} is a file, not a directory")
    assert cfg is not None
    return cfg, None


def train(
    cfg: RunConfig | None,
    run_dir: str | Path,
    resume: bool = False,
    steps: int | None = None,
    console: Console | None = None,
    workers: Callable[[Job], Workers | None] | None = None,
) -> dict[str, Any]:
    """Train (or resume) a run in ``run_dir`` and return its summary; ``workers(job)``, if
    given, starts where the amplifier's expand runs (``ida.workers.start_workers``)."""
    run_dir = Path(run_dir)
    cfg, state = open_run(run_dir, cfg, resume, steps)
    job = build(cfg)
    metrics = MetricsLog(run_dir / METRICS)
    elapsed = 0.0
    if state is not None:  # its format checked by open_run
        _restore(job, state, run_dir / CHECKPOINT)
        elapsed = state.get("train_seconds", 0.0)
        metrics.trim(job.loop.step)
    pool = job.loop.workers = None if workers is None else workers(job)
    if pool is None:
        return _train(job, cfg, run_dir, metrics, elapsed, console)
    try:
        return _train(job, cfg, run_dir, metrics, elapsed, console)
    finally:
        pool.close()


def _train(
    job: Job,
    cfg: RunConfig,
    run_dir: Path,
    metrics: MetricsLog,
    elapsed: float,
    console: Console | None,
) -> dict[str, Any]:
    """``train``'s loop, the job restored and its workers started."""
    run_dir.mkdir(parents=True, exist_ok=True)
    job.start()
    (run_dir / CONFIG).write_text(json.dumps(cfg.model_dump(), indent=2) + "\n")
    console = console or Console(stderr=True)
    started = time.perf_counter()

    def seconds() -> float:
        return elapsed + time.perf_counter() - started

    def on_eval(result: dict[str, Any]) -> None:
        record = {
            "step": job.loop.step,
            **result,
            **job.record(),
            "train_seconds": round(seconds(), 2),
            **job.loop.last,
        }
        if job.loop.workers is not None:
            record["workers"] = job.loop.workers.report()
        metrics.append(record)
        state = {**job.state_dict(), "format": FORMAT, "train_seconds": seconds()}
        save_checkpoint(run_dir / CHECKPOINT, state)
        job.plot(metrics.read(), run_dir / CURVES)
        progress.update(bar, accuracy=result["accuracy"])
        progress.console.print(f"step {job.loop.step:>6}  " + job.report(record))

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("acc {task.fields[accuracy]:.3f} {task.fields[status]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(
            cfg.label(),
            total=cfg.steps,
            completed=job.loop.step,
            accuracy=0.0,
            status=job.progress(),
        )

        def on_step(loop) -> None:
            if loop.step % 10 == 0 or loop.step == cfg.steps:
                progress.update(bar, completed=loop.step, status=job.progress())

        job.loop.run(cfg.steps, job.rng, cfg.eval_every, on_eval, on_step)
    return write_summary(job, run_dir, seconds())


def write_summary(job: Job, run_dir: Path, train_seconds: float) -> dict[str, Any]:
    """summary.json: the domain's headline numbers from the last evaluation."""
    records = MetricsLog(run_dir / METRICS).read()
    last = records[-1] if records else {**job.evaluate(), "step": job.loop.step}
    summary = {**job.summary(last), "train_seconds": round(train_seconds, 2)}
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary
