"""A text run end to end: a tiny IDA run learns, a resumed run is the run it would have been,
``ida show`` and ``ida eval`` draw it, and bad input is a one-line error."""

import json

import pytest
from rich.console import Console

from ida.core.curriculum import Curriculum
from ida.core.runs.run import load_job, train
from ida.domains.text.config import configure
from ida.domains.text.job import TextJob
from ida.testing import one_line_error, run_ida

TIMING = {"train_seconds"}
TINY = {
    "size": 4,
    "max_hops": 2,
    "steps": 12,
    "eval_every": 6,
    "instances_per_round": 4,
    "questions_per_instance": 4,
    "batch_instances": 4,
    "eval_per_level": 8,
    "model": {"d_model": 16, "n_heads": 2, "enc_layers": 1, "dec_layers": 1},
    "device": "cpu",
}


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    monkeypatch.setattr(TextJob, "plot", lambda self, records, path: None)


def metrics(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def test_a_tiny_ida_run_learns_to_answer_well_above_chance(tmp_path):
    """One-hop questions about worlds of four people: an untrained model names one of the
    world's entities at random; after a few hundred small steps, the right one mostly."""
    settings = {
        **TINY,
        "steps": 300,
        "eval_every": 300,
        "max_hops": 1,
        "instances_per_round": 8,
        "questions_per_instance": 8,
        "batch_instances": 8,
        "eval_per_level": 64,
        "lr": 3e-3,
        "ema": 0.8,
        "model": {"d_model": 32, "n_heads": 2, "enc_layers": 1, "dec_layers": 2},
    }
    cfg = configure("text_kb", settings)
    untrained = TextJob(cfg).evaluate()["accuracy"]
    summary = train(cfg, tmp_path / "run", console=Console(quiet=True))
    assert untrained < 0.3 and summary["accuracy"] > 0.5  # chance: one of the ~12 entities
    assert summary["overseer_calls"] == 300 * 64 and summary["labels"] == 0


class Unlocked(Curriculum):
    """A curriculum at two hops from the start, so that A answers H's subquestions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.level = 1


def test_a_resumed_run_is_the_run_it_would_have_been(tmp_path, monkeypatch):
    monkeypatch.setattr("ida.domains.text.job.Curriculum", Unlocked)
    cfg = configure("text_kb", TINY)
    train(cfg, tmp_path / "whole", console=Console(quiet=True))
    train(cfg, tmp_path / "half", steps=6, console=Console(quiet=True))
    train(None, tmp_path / "half", resume=True, steps=12, console=Console(quiet=True))
    assert metrics(tmp_path / "whole") == metrics(tmp_path / "half")
    whole = metrics(tmp_path / "whole")[-1]
    assert whole["model_calls"] > 0 and whole["overseer_calls"] > 12 * 16
    job = load_job(tmp_path / "half")
    assert job.loop.step == 12 and job.costs() == {k: whole[k] for k in job.costs()}


def test_supervised_runs_count_labels(tmp_path):
    cfg = configure("text_kb", {**TINY, "mode": "supervised", "steps": 4, "eval_every": 4})
    summary = train(cfg, tmp_path / "run", console=Console(quiet=True))
    assert summary["labels"] == 4 * 16 and summary["overseer_calls"] == 0


def test_train_show_and_eval_from_the_command_line(monkeypatch, capsys, tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    code, out, err = run_ida(
        monkeypatch, capsys, "train", "text_kb", "--out", run, "--config", config
    )
    assert code == 0, err
    code, out, err = run_ida(monkeypatch, capsys, "show", run, "--facts")
    assert code == 0 and "[H" in out and "facts:" in out, err
    code, out, err = run_ida(monkeypatch, capsys, "eval", run, "--per-level", "8", "--json")
    result = json.loads(out)
    assert code == 0 and len(result["heldout_templates_by_level"]) == 2
    code, out, _ = run_ida(monkeypatch, capsys, "tasks")
    assert "text_kb" in out


@pytest.mark.parametrize(
    "args, match",
    [
        (["--overseer", "llm"], "needs --endpoint URL and --model NAME"),
        (["--overseer", "learned"], "overseer 'learned' is not available"),
        (["--size", "40"], "size (people per world) must be 4 to 12"),
        (["--mode", "rl"], "mode"),
        (["--distill", "best_of_n"], "distill"),
        (["--set", "model.d_model=30", "--set", "model.n_heads=4"], "divisible"),
        (["--set", "max_hops=5"], "max_hops"),
    ],
)
def test_bad_input_is_one_line(monkeypatch, capsys, tmp_path, args, match):
    code, _, err = run_ida(monkeypatch, capsys, "train", "text_kb", "--out", tmp_path / "r", *args)
    one_line_error(code, err, match)


def test_show_level_out_of_range_is_one_line(monkeypatch, capsys, tmp_path):
    cfg = configure("text_kb", {**TINY, "steps": 2, "eval_every": 2})
    train(cfg, tmp_path / "run", console=Console(quiet=True))
    code, _, err = run_ida(monkeypatch, capsys, "show", tmp_path / "run", "--level", "2")
    one_line_error(code, err, "--level")
