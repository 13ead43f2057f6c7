"""The curriculum: the next level unlocks on enough agreement over enough questions, and
training questions are drawn from the levels unlocked so far."""

import numpy as np

from ida.core.curriculum import Curriculum


def test_curriculum_advances_only_on_agreement():
    """Agreement below ``advance_at`` keeps the level; enough unlocks the next; never past the
    last level."""
    cur = Curriculum(num_levels=3, advance_at=0.9, min_samples=10)
    levels = np.zeros(20, dtype=int)
    assert not cur.update(levels, np.arange(20) % 2 == 0)  # 50% agreement: stay
    assert cur.level == 0
    assert cur.update(levels, np.ones(20, dtype=bool))
    assert cur.level == 1
    sampled = cur.sample(np.random.default_rng(0), 1000)
    assert set(sampled) == {0, 1} and (sampled == 1).mean() > 0.6
    cur.update(np.ones(20, dtype=int), np.ones(20, dtype=bool))
    assert not cur.update(np.full(20, 2), np.ones(20, dtype=bool))
    assert cur.level == 2  # never past the last level


def test_only_the_current_level_counts_and_each_window_starts_afresh():
    """Agreement is measured on questions at the current level, over at least ``min_samples`` of
    them; a failed window is forgotten, not averaged into the next."""
    cur = Curriculum(num_levels=3, advance_at=0.9, min_samples=10)
    easier = np.zeros(50, dtype=int)
    cur.level = 1
    assert not cur.update(easier, np.ones(50, dtype=bool))  # level 0 questions: not counted
    assert cur.state_dict() == {"level": 1, "agree": 0, "seen": 0}
    assert not cur.update(np.ones(9, dtype=int), np.ones(9, dtype=bool))  # 9 < min_samples
    assert cur.update(np.ones(1, dtype=int), np.ones(1, dtype=bool))  # 10 of 10: unlocked
    cur = Curriculum(num_levels=3, advance_at=0.9, min_samples=10)
    assert not cur.update(np.zeros(10, dtype=int), np.zeros(10, dtype=bool))  # 0 of 10
    assert cur.update(np.zeros(10, dtype=int), np.ones(10, dtype=bool))  # 10 of 10, not 10 of 20


def test_curriculum_focus_is_the_share_at_the_newest_level():
    """``focus`` of the questions are at the newest level, the rest uniform over 0..level."""
    rng = np.random.default_rng(0)
    for focus, share in [(0.0, 1 / 4), (0.25, 0.25 + 0.75 / 4), (1.0, 1.0)]:
        cur = Curriculum(num_levels=5, focus=focus)
        cur.level = 3
        sampled = cur.sample(rng, 20000)
        assert sampled.max() == 3 and abs((sampled == 3).mean() - share) < 0.02


def test_curriculum_state_round_trips():
    """The level and the open window's counts survive a checkpoint."""
    cur = Curriculum(num_levels=4, advance_at=0.5, min_samples=8)
    cur.update(np.zeros(8, dtype=int), np.ones(8, dtype=bool))
    cur.update(np.ones(5, dtype=int), np.array([1, 1, 0, 0, 1], dtype=bool))
    copy = Curriculum(num_levels=4, advance_at=0.5, min_samples=8)
    copy.load_state_dict(cur.state_dict())
    assert copy.state_dict() == cur.state_dict() == {"level": 1, "agree": 3, "seen": 5}
    step = (np.ones(3, dtype=int), np.ones(3, dtype=bool))  # completes the window: 6 of 8
    assert cur.update(*step) and copy.update(*step) and copy.level == cur.level == 2
