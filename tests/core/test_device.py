"""The device a run uses: 'auto' picks CUDA where there is one; a bad name is a clear error."""

import pytest
import torch

from ida.core.device import resolve_device
from ida.core.errors import IdaError


def test_auto_picks_cuda_only_where_it_is_available():
    """'auto' is CUDA on a machine with a GPU and the CPU elsewhere; 'cpu' is always the CPU."""
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


def test_an_unknown_or_unavailable_device_is_a_one_line_error(monkeypatch):
    """A name torch does not know, and CUDA asked for without a GPU, are each an IdaError."""
    with pytest.raises(IdaError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(IdaError, match="no CUDA GPU is available"):
        resolve_device("cuda:0")
    assert resolve_device("auto") == torch.device("cpu")
