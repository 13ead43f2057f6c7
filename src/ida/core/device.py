"""Which device a run uses."""

from __future__ import annotations

import torch

from ida.core.errors import IdaError


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when available; an unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise IdaError(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise IdaError("device 'cuda' asked for, but no CUDA GPU is available")
    return device
