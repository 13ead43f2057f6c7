"""Checkpoints: written atomically, read back with a clear error when missing or corrupt."""

import pytest
import torch

from ida.core.errors import IdaError
from ida.core.runs.checkpoint import load_checkpoint, save_checkpoint


def test_a_checkpoint_round_trips(tmp_path):
    """What is saved is what is loaded, tensors included, onto the CPU."""
    state = {"step": 3, "model": {"w": torch.arange(4.0)}, "format": 2}
    save_checkpoint(tmp_path / "ck.pt", state)
    loaded = load_checkpoint(tmp_path / "ck.pt")
    assert loaded["step"] == 3 and loaded["format"] == 2
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])


def test_checkpoint_is_atomic(tmp_path):
    """A write that fails midway leaves the previous checkpoint whole and no temporary file."""
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"step": 1})

    class Boom:
        def __reduce__(self):
            raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        save_checkpoint(path, {"step": 2, "bad": Boom()})
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    """A missing file, bytes that are no checkpoint, and a dict without a step are each one
    clear error."""
    with pytest.raises(IdaError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(IdaError, match="corrupt checkpoint"):
        load_checkpoint(bad)
    torch.save({"no": "step"}, bad)
    with pytest.raises(IdaError, match="corrupt checkpoint"):
        load_checkpoint(bad)
