"""metrics.jsonl: appended line by line, read up to a line a kill cut short, trimmed back to a
checkpoint's step."""

import json

from ida.core.runs.metrics import MetricsLog


def test_records_are_appended_and_read_back_in_order(tmp_path):
    """Each record is one JSON line; a log not written yet reads as empty."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    assert log.read() == []
    for step in (10, 20):
        log.append({"step": step, "accuracy": step / 100})
    assert log.read() == [{"step": 10, "accuracy": 0.1}, {"step": 20, "accuracy": 0.2}]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_a_line_cut_short_ends_the_log(tmp_path):
    """A line a kill left half written, and anything after it, is not read."""
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 10}) + '\n{"step": 2' + "\n" + json.dumps({"step": 30}))
    assert MetricsLog(path).read() == [{"step": 10}]


def test_trim_keeps_the_records_a_checkpoint_vouches_for(tmp_path):
    """After ``trim(step)`` only records up to ``step`` remain, and appending goes on after
    them."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in (10, 20, 30):
        log.append({"step": step})
    log.trim(20)
    assert [r["step"] for r in log.read()] == [10, 20]
    log.append({"step": 30})
    assert [r["step"] for r in log.read()] == [10, 20, 30]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]
