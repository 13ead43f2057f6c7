import os

import pytest


@pytest.fixture(autouse=True)
def _no_ray_token(monkeypatch):
    """A Ray started by a test writes no auth token into the home folder."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
