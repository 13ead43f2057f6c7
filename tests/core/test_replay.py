"""Arrays of experience and the replay buffer: the latest rows kept, rows kept whole, sampling,
and checkpoint state."""

from dataclasses import dataclass

import numpy as np
import pytest

from ida.core.replay import Arrays, ReplayBuffer


@dataclass
class Rows(Arrays):
    """Experience of any domain: here ids [N], a [N, 2] block and an optional field."""

    ids: np.ndarray
    block: np.ndarray
    extra: np.ndarray | None = None


def rows(start, n):
    ids = np.arange(start, start + n)
    return Rows(ids=ids, block=ids[:, None].repeat(2, 1) * 10)


def test_arrays_select_and_join_rows_of_every_present_field():
    """``rows`` and ``cat`` act on every field alike; an absent (None) field stays absent."""
    a = rows(0, 3)
    assert len(a) == 3 and set(a.arrays()) == {"ids", "block"}
    picked = a.rows(np.array([2, 0]))
    assert picked.ids.tolist() == [2, 0] and picked.block[:, 1].tolist() == [20, 0]
    assert picked.extra is None
    joined = Rows.cat([a, rows(3, 2)])
    assert joined.ids.tolist() == [0, 1, 2, 3, 4] and (joined.block[:, 0] == joined.ids * 10).all()
    full = Rows(ids=np.arange(2), block=np.zeros((2, 2)), extra=np.ones(2))
    assert set(full.rows(slice(0, 1)).arrays()) == {"ids", "block", "extra"}


def test_replay_keeps_the_latest_rows_and_their_fields_together():
    """A full buffer overwrites its oldest rows; every sampled row is one stored row, whole."""
    buf = ReplayBuffer(capacity=5, kind=Rows)
    assert buf.stored() is None
    with pytest.raises(RuntimeError, match="empty"):
        buf.sample(np.random.default_rng(0), 1)
    buf.add(rows(0, 3))
    assert buf.size == 3 and buf.stored().ids.tolist() == [0, 1, 2]
    buf.add(rows(3, 4))
    assert buf.size == 5
    assert sorted(buf.stored().ids) == [2, 3, 4, 5, 6]
    batch = buf.sample(np.random.default_rng(0), 200)
    assert set(batch.ids) == {2, 3, 4, 5, 6}  # uniform over what is stored, all of it
    assert (batch.block == batch.ids[:, None] * 10).all()


def test_replay_state_round_trips_mid_ring():
    """A buffer restored from its state (wrapped around, mid-ring) holds the same rows and
    overwrites the same slot next."""
    buf = ReplayBuffer(capacity=5, kind=Rows)
    buf.add(rows(0, 3))
    buf.add(rows(3, 4))  # wrapped: the next row overwrites slot 2
    copy = ReplayBuffer(capacity=5, kind=Rows)
    copy.load_state_dict(buf.state_dict())
    assert (copy.stored().ids == buf.stored().ids).all() and copy.pos == buf.pos == 2
    copy.add(rows(7, 1))
    buf.add(rows(7, 1))
    assert (copy.data.ids == buf.data.ids).all() and (copy.data.block == buf.data.block).all()
    empty = ReplayBuffer(capacity=5, kind=Rows)
    empty.load_state_dict(ReplayBuffer(capacity=5, kind=Rows).state_dict())
    assert empty.stored() is None and empty.size == 0
