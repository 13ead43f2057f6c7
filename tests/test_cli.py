"""The command line: each bad input is one line on stderr and a non-zero exit, nothing lost."""

import json

import pytest
import torch

from ida.domains.qa.build import build_job
from ida.domains.qa.config import qa_config
from ida.testing import one_line_error, run_ida

TINY = ["--steps", "4", "--size", "5", "--device", "cpu"]


def train_tiny(monkeypatch, capsys, run, config):
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "union_find", "--out", run, "--config", config, *TINY
    )
    assert code == 0, err


def snapshot(run):
    """Every file of a run directory, byte for byte."""
    return {p.name: p.read_bytes() for p in run.iterdir()}


def test_a_run_without_out_is_named_after_its_task_mode_and_config(
    monkeypatch, capsys, tmp_path, tiny_config
):
    """Runs of one task with different config files get different default directories, so the
    second does not stop at "already holds a run"."""
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text(tiny_config.read_text())
    for config in (tiny_config, other):
        code, _, err = run_ida(
            monkeypatch, capsys, "train", "union_find", "--config", config, *TINY
        )
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "union_find-ida-other",
        "union_find-ida-tiny",
    ]


def test_tasks_lists_all_five(monkeypatch, capsys):
    code, out, _ = run_ida(monkeypatch, capsys, "tasks")
    assert code == 0
    for name in [
        "permutation_powering",
        "sequential_assignments",
        "wildcard_search",
        "shortest_path",
        "union_find",
    ]:
        assert name in out


def test_train_eval_show(monkeypatch, capsys, tmp_path, tiny_config):
    run = tmp_path / "run"
    train_tiny(monkeypatch, capsys, run, tiny_config)
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    code, out, _ = run_ida(monkeypatch, capsys, "eval", run, "--json", "--per-level", 8)
    assert code == 0 and len(json.loads(out)["accuracy_by_level"]) > 1
    assert json.loads(out)["weights"] == "ema"
    code, out, _ = run_ida(monkeypatch, capsys, "eval", run, "--json", "--weights", "latest")
    assert code == 0 and json.loads(out)["weights"] == "latest"
    code, _, err = run_ida(monkeypatch, capsys, "eval", run, "--weights", "best")
    one_line_error(code, err, "--weights must be 'ema' or 'latest'")
    code, out, _ = run_ida(monkeypatch, capsys, "show", run)
    assert code == 0 and "[overseer]" in out and "[model]" in out
    code, out, _ = run_ida(
        monkeypatch, capsys, "train", "union_find", "--out", run, "--resume", "--steps", 6
    )
    assert code == 0 and json.loads((run / "summary.json").read_text())["steps"] == 6


def test_unknown_task(monkeypatch, capsys, tmp_path):
    code, _, err = run_ida(monkeypatch, capsys, "train", "no_such_task", "--out", tmp_path / "r")
    one_line_error(code, err, "unknown task 'no_such_task'")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        (["train", "union_find", "--bogus", "1"], "No such option"),
        (["train"], "Missing argument"),
        (["nosuch"], "No such command"),
        (["train", "union_find", "--set", "steps"], "KEY=VALUE"),
        (["train", "union_find", "--distill", "dpo"], "distill"),
        (["audit", "somewhere", "--order", "dfs"], "--order"),
    ],
)
def test_usage_errors(monkeypatch, capsys, args, match):
    code, _, err = run_ida(monkeypatch, capsys, *args)
    one_line_error(code, err, match)


def test_size_out_of_range(monkeypatch, capsys, tmp_path):
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "union_find", "--size", 100000, "--out", tmp_path / "r"
    )
    one_line_error(code, err, "size must be")


@pytest.mark.parametrize(
    "text,match",
    [
        ("steps = = 1", "malformed config"),
        ("bogus = 1", "bogus"),
        ('steps = "many"', "steps"),
        ("[model]\ndec_layers = 1\n[model.link_walk]\nmoves = 4", "link_walk needs"),
        ("[model.link_walk]\nmoves = -1", "model.link_walk.moves"),
        ("[model.link_walk]\nsteps = 4", "model.link_walk.steps"),
        ("[model]\nenc_repeat = 0", "model.enc_repeat"),
        ("[model]\nd_model = 30", "must be divisible by n_heads"),
        ("link_walk = 4", "link_walk: Extra inputs"),
    ],
)
def test_malformed_config(monkeypatch, capsys, tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "union_find", "--config", path, "--out", tmp_path / "r"
    )
    one_line_error(code, err, match)


def test_computed_tokens_from_a_slot_the_facts_lack(monkeypatch, capsys, tmp_path):
    setting = "model.computed_tokens.from_slot=3"
    args = ["train", "union_find", "--set", setting, "--out", tmp_path / "r"]
    code, _, err = run_ida(monkeypatch, capsys, *args)
    one_line_error(code, err, "from_slot must be below fact_len (3)")
    assert not (tmp_path / "r").exists()


def test_computed_answers_where_facts_hold_no_answers(monkeypatch, capsys, tmp_path):
    setting = "model.computed_tokens.answers=true"
    args = ["train", "union_find", "--set", setting, "--out", tmp_path / "r"]
    code, _, err = run_ida(monkeypatch, capsys, *args)
    one_line_error(code, err, "answers are not tokens of its facts")
    assert not (tmp_path / "r").exists()


def test_a_reach_profile_too_wide_for_the_task(monkeypatch, capsys, tmp_path):
    args = ["train", "wildcard_search", "--set", "model.reach.moves=7", "--out", tmp_path / "r"]
    code, _, err = run_ida(monkeypatch, capsys, *args)
    one_line_error(code, err, "meant for facts of two or three slots")
    assert not (tmp_path / "r").exists()


def test_missing_and_corrupt_checkpoint(monkeypatch, capsys, tmp_path, tiny_config):
    code, _, err = run_ida(monkeypatch, capsys, "eval", tmp_path / "nothing")
    one_line_error(code, err, "holds no ida run")
    run = tmp_path / "run"
    train_tiny(monkeypatch, capsys, run, tiny_config)
    (run / "checkpoint.pt").write_bytes(b"garbage")
    before = snapshot(run)
    for args in (["eval", run], ["show", run], ["train", "union_find", "--out", run, "--resume"]):
        code, _, err = run_ida(monkeypatch, capsys, *args)
        one_line_error(code, err, "corrupt checkpoint")
    assert snapshot(run) == before


@pytest.mark.parametrize("change", ["drop", "reshape"])
def test_a_checkpoint_of_another_model_shape(monkeypatch, capsys, tmp_path, tiny_config, change):
    """A parameter the checkpoint lacks or shapes otherwise (written by another version, a
    vocabulary grown since, say) is named, not 'corrupt'."""
    run = tmp_path / "run"
    train_tiny(monkeypatch, capsys, run, tiny_config)
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    bias = state["model"]["head.bias"]
    if change == "drop":
        del state["model"]["head.bias"]
        said = "(missing parameter head.bias)"
    else:
        state["model"]["head.bias"] = torch.cat([bias, bias[:1]])
        said = f"(head.bias is ({len(bias) + 1},) there, ({len(bias)},) here)"
    torch.save(state, run / "checkpoint.pt")
    before = snapshot(run)
    code, _, err = run_ida(monkeypatch, capsys, "eval", run)
    one_line_error(code, err, f"does not fit this version's model {said}")
    assert snapshot(run) == before


def test_existing_run_needs_resume(monkeypatch, capsys, tmp_path, tiny_config):
    run = tmp_path / "run"
    train_tiny(monkeypatch, capsys, run, tiny_config)
    before = snapshot(run)
    code, _, err = run_ida(monkeypatch, capsys, "train", "union_find", "--out", run, *TINY)
    one_line_error(code, err, "already holds a run")
    code, _, err = run_ida(
        monkeypatch, capsys, "train", "wildcard_search", "--out", run, "--resume"
    )
    one_line_error(code, err, "holds a run of 'union_find'")
    assert snapshot(run) == before


def test_a_checkpoint_of_an_older_format(monkeypatch, capsys, tmp_path):
    """A checkpoint without this version's ``format`` (as ida wrote them before 0.2) is a
    one-line error for every command that reads it, and nothing in the run directory changes."""
    run = tmp_path / "run"
    run.mkdir()
    cfg = qa_config(task="union_find", size=5, device="cpu", model={"d_model": 16, "n_heads": 2})
    (run / "config.json").write_text(json.dumps(cfg.model_dump()))
    torch.save(build_job(cfg).state_dict(), run / "checkpoint.pt")  # everything but "format"
    before = snapshot(run)
    for args in (
        ["eval", run],
        ["show", run],
        ["audit", run],
        ["train", "union_find", "--out", run, "--resume", "--steps", 6],
    ):
        code, _, err = run_ida(monkeypatch, capsys, *args)
        one_line_error(code, err, "was written by an older ida (before 0.2)")
    assert snapshot(run) == before


def test_settings_take_precedence_config_then_set_then_options(monkeypatch, capsys, tmp_path):
    """--set overrides the config file and the command's options override --set: each bad
    value below is overridden, so the run gets as far as its (unusable) --out."""
    config = tmp_path / "bad.toml"
    config.write_text('steps = "many"\n')
    taken = tmp_path / "a_file"
    taken.write_text("")
    for extra in (["--set", "steps=3"], ["--set", "steps=0", "--steps", "3"]):
        args = ["train", "union_find", "--config", config, "--out", taken, *extra]
        code, _, err = run_ida(monkeypatch, capsys, *args)
        one_line_error(code, err, "is a file, not a directory")
    code, _, err = run_ida(monkeypatch, capsys, "train", "union_find", "--config", config)
    one_line_error(code, err, "steps")  # and nothing overrides the file's bad value here


def test_bench_engine_json(monkeypatch, capsys):
    """The benchmark's numbers agree with each other: every node but the roots is a model
    answer (depth 1), the batched calls answer them all, and the per-second rates and the
    speedup come from the same timings."""
    code, out, _ = run_ida(
        monkeypatch, capsys, "bench", "engine", "--json", "--trees", 64, "--size", 8
    )
    result = json.loads(out)
    assert code == 0
    assert (result["task"], result["size"], result["trees"]) == ("permutation_powering", 8, 64)
    assert result["nodes"] == result["trees"] + result["model_calls"]
    assert result["trees"] <= result["model_calls"] <= 2 * result["trees"]  # one or two hops
    batches = result["model_calls"] / result["mean_batch"]
    assert 1 <= batches and batches == pytest.approx(round(batches), abs=0.01)
    assert result["mean_batch"] > 1  # the trees' calls were batched together
    # every rate is rounded to 0.1 and the speedup too: allow exactly what rounding can add
    rate, serial = result["batched_nodes_per_s"], result["serial_nodes_per_s"]
    share = result["model_calls"] / result["nodes"]
    assert abs(result["batched_model_answers_per_s"] - rate * share) <= 0.05 + 0.05 * share + 1e-9
    speedup = rate / serial
    slack = 0.05 + 1.1 * speedup * (0.05 / rate + 0.05 / serial) + 1e-9
    assert abs(result["speedup_vs_serial"] - speedup) <= slack
