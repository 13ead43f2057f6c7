"""What every run's configuration has, and how configs are read, merged and validated.

A domain's config class extends ``RunConfig`` with its own settings. A run's settings come, in
rising precedence, from the domain's defaults, the task's recommended settings, a TOML or JSON
file, ``--set KEY=VALUE`` pairs and the command's own options.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ida.core.errors import IdaError

C = TypeVar("C", bound="RunConfig")


class RunConfig(BaseModel):
    """The settings the run machinery itself reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    steps: int = Field(3000, ge=1, description="distillation (gradient) steps")
    seed: int = 0
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'")
    eval_every: int = Field(250, ge=1)

    def label(self) -> str:
        """How progress bars and plots name the run (domains add their mode, say)."""
        return self.task


def describe_error(err: ValidationError) -> str:
    """One line naming each bad field and why."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "config"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def make_config(kind: type[C], base: dict | None = None, **overrides) -> C:
    """A validated ``kind`` from a dict plus overrides (None overrides are ignored)."""
    data = dict(base or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return kind(**data)
    except ValidationError as err:
        raise IdaError(f"invalid config: {describe_error(err)}") from None


def read_config_file(path: str | Path) -> dict:
    """The settings in a .toml or .json file, as a dict; a clear error if unreadable."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise IdaError(f"cannot read config {path}: {err.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise IdaError(f"malformed config {path}: {err}") from None
    if not isinstance(data, dict):
        raise IdaError(f"malformed config {path}: expected a table of settings")
    return data


def parse_settings(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings as a dict; values are read as JSON where they parse (numbers,
    true/false, tables), else kept as strings. A dotted key names a setting in a table:
    ``model.link_walk.moves=8``."""
    data: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        names = [name.strip() for name in key.split(".")]
        if not sep or not all(names):
            raise IdaError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        for name in reversed(names[1:]):
            value = {name: value}
        data = merge(data, {names[0]: value})
    return data


def merge(defaults: dict, settings: dict) -> dict:
    """``settings`` over ``defaults``, tables merged key by key (``true`` over a table keeps
    the table: a switch that is on stays as it was set)."""
    merged = dict(defaults)
    for key, value in settings.items():
        if isinstance(merged.get(key), dict) and (isinstance(value, dict) or value is True):
            value = merge(merged[key], value if value is not True else {})  # true: keep it on
        merged[key] = value
    return merged
