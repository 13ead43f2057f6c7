"""Local worker processes: the same experience and counts as expanding in the learner, weights
shipped once per version, a worker killed mid-round losing nothing, rounds expanded ahead."""

import pytest

from ida.core.errors import IdaError
from ida.core.runs.run import build
from ida.workers import Pool, WorkerSettings
from ida.workers.local import LocalBackend
from ida.workers.replica import WorkerFailed, weights_of
from ida.workers.testing import SMALL, KillOnce, rounds, same_as_here, small_config


@pytest.fixture(params=sorted(SMALL))
def config(request):
    return small_config(request.param)


def test_workers_give_the_same_experience_and_counts_as_the_learner(config):
    report = same_as_here(config, LocalBackend(config, 2), count=3)
    assert report["rounds"] == 3 and report["max_lag"] == 0
    assert report["weights_sent"] == 3 * 2  # each version once to each worker
    assert report.get("workers_lost", 0) == 0


def test_a_worker_killed_mid_round_loses_nothing_and_counts_nothing_twice():
    cfg = small_config("tic_tac_toe")
    backend = KillOnce(LocalBackend(cfg, 2))
    report = same_as_here(cfg, backend)
    assert backend.killed
    assert report["workers_lost"] == 1 and report["parts_redone"] >= 1
    assert report["workers_replaced"] == 1


def test_rounds_expanded_ahead_use_weights_at_most_lag_versions_old():
    cfg = small_config("tic_tac_toe")
    job = build(cfg)
    pool = Pool(LocalBackend(cfg, 1), lag=1)
    try:
        rounds(job, 3, pool)
        report = pool.report()
    finally:
        pool.close()
    assert report["rounds"] == 3 and report["lagged_rounds"] == 3 and report["max_lag"] == 1
    assert job.loop.amplifier.counts["games"] == 3 * cfg.games  # absorbed once each
    assert report["parts"] == 4  # one round still in flight at the end


def test_an_expand_that_raises_in_a_worker_is_a_failure_with_its_traceback():
    cfg = small_config("union_find")
    backend = LocalBackend(cfg, 1)
    try:
        backend.ship(1, weights_of(build(cfg).loop.distiller.teacher))
        backend.start(0, 0, 1, "not a round")
        with pytest.raises(WorkerFailed, match="Traceback"):
            while not backend.wait():
                pass
    finally:
        backend.close()


def test_an_amplifier_whose_expand_reads_learner_state_is_refused():
    cfg = small_config("union_find").model_copy(update={"overseer": "learned"})
    with pytest.raises(IdaError, match="cannot run on workers"):
        from ida.workers import start_workers

        start_workers(WorkerSettings(workers=1), build(cfg))


@pytest.mark.parametrize(
    "settings, match",
    [
        (WorkerSettings(workers=-1), "--workers must be 0 or more"),
        (WorkerSettings(workers=1, backend="mpi"), "unknown backend"),
        (WorkerSettings(workers=1, address="10.0.0.1:6379"), "add --backend ray"),
        (WorkerSettings(workers=0, lag=1), "need --workers 1 or more"),
        (WorkerSettings(workers=1, lag=-2), "--lag must be 0 or more"),
    ],
)
def test_settings_that_cannot_run_are_one_line_errors(settings, match):
    with pytest.raises(IdaError, match=match):
        settings.check()
