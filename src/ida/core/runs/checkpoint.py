"""Atomic checkpoints: written to a temporary file and renamed, so a kill never leaves half."""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from ida.core.errors import IdaError

FORMAT = 2  # the layout of a checkpoint's state; 2 since ida 0.2 (domains, expand/absorb)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint; a missing or corrupt file is a clear ``IdaError``."""
    path = Path(path)
    if not path.is_file():
        raise IdaError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (
        OSError,
        RuntimeError,
        EOFError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        AttributeError,
        ImportError,
    ) as err:
        raise IdaError(f"corrupt checkpoint {path}: {type(err).__name__}") from None
    if not isinstance(state, dict) or "step" not in state:
        raise IdaError(f"corrupt checkpoint {path}: not an ida checkpoint")
    return state
