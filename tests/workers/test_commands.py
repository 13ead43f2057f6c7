"""``ida train --workers``: the same run as without workers, and bad settings as one line."""

import json

import pytest

from ida.testing import one_line_error, run_ida

TINY = ["--steps", "4", "--size", "5", "--device", "cpu"]


def test_a_run_on_workers_is_the_run_without_them(monkeypatch, capsys, tmp_path, tiny_config):
    summaries, records = [], []
    for name, extra in (("here", []), ("workers", ["--workers", "2"])):
        run = tmp_path / name
        code, _, err = run_ida(
            monkeypatch,
            capsys,
            "train",
            "union_find",
            "--out",
            run,
            "--config",
            tiny_config,
            *TINY,
            *extra,
        )
        assert code == 0, err
        summary = json.loads((run / "summary.json").read_text())
        summary.pop("train_seconds")
        summaries.append(summary)
        records.append([json.loads(line) for line in (run / "metrics.jsonl").open()])
    assert summaries[0] == summaries[1]
    assert "workers" not in records[0][-1]
    assert records[1][-1]["workers"]["rounds"] == 4 and records[1][-1]["workers"]["parts"] == 8


@pytest.mark.parametrize(
    "options, match",
    [
        (["--workers", "-1"], "--workers must be 0 or more"),
        (["--workers", "1", "--backend", "mpi"], "unknown backend 'mpi'"),
        (["--workers", "1", "--address", "127.0.0.1:6379"], "add --backend ray"),
        (["--lag", "1"], "need --workers 1 or more"),
        (["--workers", "1", "--overseer", "learned"], "cannot run on workers"),
    ],
)
def test_bad_worker_settings_are_one_line_errors(monkeypatch, capsys, tmp_path, options, match):
    run = tmp_path / "run"
    code, _, err = run_ida(monkeypatch, capsys, "train", "union_find", "--out", run, *options)
    one_line_error(code, err, match)
    assert not (run / "config.json").exists()


def test_an_unreachable_ray_cluster_is_one_line(monkeypatch, capsys, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ida[ray]')")
    run = tmp_path / "run"
    options = ["--workers", "1", "--backend", "ray", "--address", "127.0.0.1:1"]
    code, _, err = run_ida(monkeypatch, capsys, "train", "union_find", "--out", run, *options)
    one_line_error(code, err, "cannot reach the Ray cluster at 127.0.0.1:1")
    assert not (run / "config.json").exists()
