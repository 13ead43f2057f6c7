"""Run directories: atomic checkpoints, exact resume, metrics, summary, and bad input."""

import json

import pytest
import torch
from rich.console import Console

from ida.core.errors import IdaError
from ida.core.runs.checkpoint import load_checkpoint
from ida.core.runs.config import read_config_file
from ida.core.runs.run import load_job, train
from ida.domains.qa.build import build_job
from ida.domains.qa.config import qa_config


def quiet():
    return Console(quiet=True)


def test_run_writes_everything(tmp_path, tiny):
    summary = train(qa_config(tiny), tmp_path / "run", console=quiet())
    run = tmp_path / "run"
    for name in ["config.json", "checkpoint.pt", "metrics.jsonl", "curves.png", "summary.json"]:
        assert (run / name).is_file(), name
    assert json.loads((run / "summary.json").read_text()) == summary
    for key in [
        "task",
        "mode",
        "size",
        "steps",
        "accuracy",
        "overseer_calls",
        "model_calls",
        "train_seconds",
        "seed",
    ]:
        assert key in summary
    assert summary["steps"] == 20 and summary["size"] == 6
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [10, 20]
    # every root question costs one overseer call; supervised runs count labels instead
    assert summary["overseer_calls"] >= 20 * 8 * 8 and summary["labels"] == 0


def test_the_run_reports_the_ema_teacher_unless_told_the_latest_weights(tiny):
    job = build_job(qa_config(tiny, curriculum_focus=0.25))
    assert job.curriculum.focus == 0.25
    assert job.answerer is job.loop.distiller.teacher
    before = job.evaluate()["accuracy_by_level"]
    with torch.no_grad():  # the latest weights now answer 0 to everything; the teacher is as was
        job.model.head.bias[0] = 1e4
    assert job.evaluate()["accuracy_by_level"] == before
    job.cfg = qa_config(tiny, eval_weights="latest")
    assert job.answerer is job.model
    latest = job.evaluate()["accuracy_by_level"]
    assert latest != before
    assert latest == [
        (job.heldout.targets[job.heldout.levels == lv] == 0).mean()
        for lv in range(job.task.num_levels)
    ]


def test_supervised_counts_labels_not_overseer_calls(tmp_path, tiny):
    summary = train(qa_config(tiny, mode="supervised"), tmp_path / "run", console=quiet())
    assert summary["labels"] == 20 * 8 * 8
    assert summary["overseer_calls"] == 0 and summary["model_calls"] == 0


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"warm_start_steps": 12, "amplify_every": 2},
        # the KL reference is frozen before the checkpoint (5) or after it (15)
        {"distill": "reinforce", "approval": "learned", "judge_share": 0.5, "imitation_steps": 5},
        {"distill": "best_of_n", "overseer": "biased", "imitation_steps": 15},
        {"amplify": "adversarial", "per_subquestion": True, "anneal_rounds": 15, "alpha_end": 0.01},
        {"overseer": "learned", "trust_learned": 0.0, "min_h_share": 0.3},
        {"amplify": "adversarial", "confidence": -0.5, "own_tree": 2, "trust_learned": 0.0},
    ],
)
def test_resume_continues_exactly(tmp_path, tiny, extra):
    cfg = qa_config(tiny, **extra)
    straight = train(cfg, tmp_path / "a", console=quiet())
    train(qa_config(tiny, **extra, steps=10), tmp_path / "b", console=quiet())
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 10
    resumed = train(None, tmp_path / "b", resume=True, steps=20, console=quiet())
    assert resumed["steps"] == 20
    for key in [
        "accuracy",
        "accuracy_by_level",
        "overseer_calls",
        "learned_calls",
        "model_calls",
        "level",
    ]:
        assert resumed[key] == straight[key], key
    a = load_job(tmp_path / "a").model.state_dict()
    b = load_job(tmp_path / "b").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_trims_metrics_written_after_the_checkpoint(tmp_path, tiny):
    run = tmp_path / "run"
    train(qa_config(tiny), run, console=quiet())
    with (run / "metrics.jsonl").open("a") as f:  # as if killed after logging step 30
        f.write(json.dumps({"step": 30, "accuracy": 1.0}) + "\n")
    train(None, run, resume=True, steps=20, console=quiet())
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20]


def test_existing_run_is_never_overwritten(tmp_path, tiny):
    run = tmp_path / "run"
    train(qa_config(tiny), run, console=quiet())
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(IdaError, match="already holds a run"):
        train(qa_config(tiny), run, console=quiet())
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_bad_configs_are_clear_errors(tmp_path):
    with pytest.raises(IdaError, match="steps"):
        qa_config(steps=0)
    with pytest.raises(IdaError, match="bogus"):
        qa_config({"bogus": 1})
    with pytest.raises(IdaError, match="divisible"):
        qa_config(model={"d_model": 30, "n_heads": 4})
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3")
    with pytest.raises(IdaError, match="malformed config"):
        read_config_file(bad)
    good = tmp_path / "good.toml"
    good.write_text('mode = "supervised"\nsteps = 7\n')
    assert qa_config(read_config_file(good)).steps == 7
    with pytest.raises(IdaError, match="cannot read"):
        read_config_file(tmp_path / "nope.toml")


@pytest.mark.parametrize("written", [{}, {"format": 1}])
def test_a_checkpoint_of_an_older_format_is_refused_before_anything_changes(
    tmp_path, tiny, written
):
    """A checkpoint with no ``format`` or an older one is the one-line "older ida" error, from
    ``load_job`` and from resuming, and the run directory is left exactly as it was."""
    run = tmp_path / "run"
    run.mkdir()
    cfg = qa_config(tiny)
    (run / "config.json").write_text(json.dumps(cfg.model_dump()))
    state = {key: value for key, value in build_job(cfg).state_dict().items() if key != "format"}
    torch.save({**state, **written}, run / "checkpoint.pt")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for attempt in (
        lambda: load_job(run),
        lambda: train(None, run, resume=True, steps=30, console=quiet()),
    ):
        pattern = r"written by an (older ida|ida of checkpoint format)"
        with pytest.raises(IdaError, match=pattern) as err:
            attempt()
        assert "\n" not in str(err.value) and "train a new run" in str(err.value)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
