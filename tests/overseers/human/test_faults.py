"""The fault harness (benchmarks/workbench_faults.py), short: 16 worker processes answering
~150 union_find steps over HTTP on a real server, a random worker SIGKILLed every 50 ms and
respawned, some claims stalling past a 1 s lease. Every task must be answered exactly once, by
whoever held it last; and with fencing off the harness must see stale accepts.

    pytest tests/overseers/human/test_faults.py
"""

import importlib.util
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[3] / "benchmarks" / "workbench_faults.py"


def load_harness():
    spec = importlib.util.spec_from_file_location("workbench_faults", HARNESS)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


harness = load_harness()
SHORT = dict(workers=16, kill_every=0.05, lease=1.0, stall_seconds=1.5, timeout=60.0)


def explain(report: dict) -> str:
    return harness.summary(report)


def test_sqlite_under_kills(tmp_path):
    report = harness.faults("sqlite", tmp_path, tasks=150, stall=0.03, **SHORT)
    assert report["passed"], explain(report)
    assert report["kills"] > 0 and report["unanswered"] == 0


def test_postgresql_under_kills(tmp_path, postgres):
    report = harness.faults(
        "postgresql", tmp_path, cluster=postgres, tasks=150, stall=0.03, **SHORT
    )
    assert report["passed"], explain(report)
    assert report["kills"] > 0 and report["unanswered"] == 0


def test_the_harness_sees_stale_accepts_without_fencing(tmp_path):
    report = harness.faults("sqlite", tmp_path, unsafe="no-fence", tasks=60, stall=0.4, **SHORT)
    assert report["stale_accepts"] > 0, explain(report)
    assert report["passed"]  # with a guard off, passing means the harness caught it
