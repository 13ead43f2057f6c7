"""States of a search as the nets see them: every variable's values on every example, next to
the goal's values on the same examples, as padded integer arrays.

A state is a partial program's environment (one ``Values`` per variable, one row per example)
and the goal it is searched towards (the task's outputs, or a sub-goal). ``StateArrays`` holds a
batch of them; the same arrays are stored in the replay buffer for distillation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ida.core.replay import Arrays
from ida.domains.programs.language import Language, Values

MAX_EXAMPLES = 5
NONE, INT, LIST = 0, 1, 2  # kinds of a slot: empty, an int, a list
KIND = {"int": INT, "list": LIST}


@dataclass
class StateArrays(Arrays):
    """A batch of states: ``tokens`` (n, V, E, L) values as tokens (0 pads: value - low + 1
    otherwise), ``kinds`` (n, V) NONE/INT/LIST, ``lengths`` (n, V, E); the goal as
    ``goal_tokens`` (n, E, L), ``goal_kind`` (n,), ``goal_lengths`` (n, E); ``examples``
    (n, E) bool: which example rows are real."""

    tokens: np.ndarray
    kinds: np.ndarray
    lengths: np.ndarray
    goal_tokens: np.ndarray
    goal_kind: np.ndarray
    goal_lengths: np.ndarray
    examples: np.ndarray


def tokens_of(language: Language, values: Values) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as tokens ``(n, max_len)`` and lengths ``(n,)`` (an int is one token);
    computed once per ``Values`` (a state shares its parent's)."""
    cached = values.__dict__.get("_tokens")
    if cached is None:
        cached = values.__dict__["_tokens"] = _tokens(language, values)
    return cached


def _tokens(language: Language, values: Values) -> tuple[np.ndarray, np.ndarray]:
    n, width = len(values), language.max_len
    if values.lengths is None:
        tokens = np.zeros((n, width), dtype=np.int16)
        tokens[:, 0] = values.data - language.low + 1
        return tokens, np.ones(n, dtype=np.int8)
    inside = np.arange(width) < values.lengths[:, None]
    tokens = np.where(inside, values.data - language.low + 1, 0).astype(np.int16)
    return tokens, values.lengths.astype(np.int8)


def encode_states(
    language: Language, envs: list[list[Values]], goals: list[Values], slots: int
) -> StateArrays:
    """The arrays of states ``(envs[i], goals[i])``; variables past ``slots`` are left out
    (the oldest inputs are kept: a search never grows a program past its slots)."""
    n, e, width = len(envs), MAX_EXAMPLES, language.max_len
    out = StateArrays(
        tokens=np.zeros((n, slots, e, width), dtype=np.int16),
        kinds=np.zeros((n, slots), dtype=np.int8),
        lengths=np.zeros((n, slots, e), dtype=np.int8),
        goal_tokens=np.zeros((n, e, width), dtype=np.int16),
        goal_kind=np.zeros(n, dtype=np.int8),
        goal_lengths=np.zeros((n, e), dtype=np.int8),
        examples=np.zeros((n, e), dtype=bool),
    )
    for i, (env, goal) in enumerate(zip(envs, goals, strict=True)):
        rows = len(goal)
        out.examples[i, :rows] = True
        out.goal_tokens[i, :rows], out.goal_lengths[i, :rows] = tokens_of(language, goal)
        out.goal_kind[i] = KIND[goal.type]
        for v, values in enumerate(env[:slots]):
            out.tokens[i, v, :rows], out.lengths[i, v, :rows] = tokens_of(language, values)
            out.kinds[i, v] = KIND[values.type]
    return out


def op_slots(language: Language, arity: int = 2) -> np.ndarray:
    """``(ops, arity)`` the kind each op wants in each argument slot (NONE past its arity)."""
    slots = np.zeros((len(language.ops), arity), dtype=np.int8)
    for o, op in enumerate(language.ops):
        for k, type_ in enumerate(op.args):
            slots[o, k] = KIND[type_]
    return slots


def pair_arrays(language: Language, pairs: list[tuple[Values, Values]]) -> dict[str, np.ndarray]:
    """The arrays of (value, goal) pairs, for ``EditNet.variables``: each value's and goal's
    tokens (n, E, L), kinds (n,) and lengths (n, E), and the real ``examples`` (n, E)."""
    n, e, width = len(pairs), MAX_EXAMPLES, language.max_len
    out = {
        "tokens": np.zeros((n, e, width), dtype=np.int16),
        "kinds": np.zeros(n, dtype=np.int8),
        "lengths": np.zeros((n, e), dtype=np.int8),
        "goal_tokens": np.zeros((n, e, width), dtype=np.int16),
        "goal_kind": np.zeros(n, dtype=np.int8),
        "goal_lengths": np.zeros((n, e), dtype=np.int8),
        "examples": np.zeros((n, e), dtype=bool),
    }
    for i, (value, goal) in enumerate(pairs):
        rows = len(goal)
        out["tokens"][i, :rows], out["lengths"][i, :rows] = tokens_of(language, value)
        out["goal_tokens"][i, :rows], out["goal_lengths"][i, :rows] = tokens_of(language, goal)
        out["kinds"][i], out["goal_kind"][i] = KIND[value.type], KIND[goal.type]
        out["examples"][i, :rows] = True
    return out
