"""Ray actors as workers, on a Ray started by the test: the same experience as the learner's,
weights put once per version, an actor killed mid-round losing nothing, and no file left
behind (no auth token in the home folder, Ray's session folder removed)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ida.core.errors import IdaError
from ida.core.runs.run import build
from ida.workers import Pool
from ida.workers.testing import KillOnce, rounds, same_as_here, small_config

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ida[ray]')")
from ida.workers.on_ray import RayBackend, connect  # noqa: E402

TOKEN = Path.home() / ".ray" / "auth_token"


@pytest.fixture(scope="module")
def local_ray():
    """A Ray of two CPUs for this module, in a folder of its own, removed after."""
    had_token = TOKEN.exists()
    os.environ["RAY_AUTH_MODE"] = "disabled"
    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths
    assert connect(None, 2, folder)
    yield folder
    ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)
    assert TOKEN.exists() == had_token


def test_ray_workers_give_the_same_experience_as_the_learner(local_ray):
    cfg = small_config("union_find")
    report = same_as_here(cfg, RayBackend(cfg, 2), count=3)
    assert report["weights_put"] == 3  # one object per version, shared by the actors


def test_a_ray_actor_killed_mid_round_loses_nothing(local_ray):
    cfg = small_config("tic_tac_toe")
    backend = KillOnce(RayBackend(cfg, 2))
    report = same_as_here(cfg, backend)
    assert backend.killed and report["workers_lost"] >= 1 and report["parts_redone"] >= 1


def test_actors_that_never_come_back_are_one_line_error(local_ray):
    """A cluster that is gone (here: every actor killed for good) ends the run with one line
    saying how to resume, not a hang."""
    cfg = small_config("union_find")
    job = build(cfg)
    backend = RayBackend(cfg, 2)
    backend.revive_seconds = 1.0
    pool = Pool(backend)
    for actor in backend.actors:
        ray.kill(actor, no_restart=True)
    with pytest.raises(IdaError, match="did not come back.*--resume"):
        rounds(job, 1, pool)
    backend.actors = []  # already gone
    pool.close()
