"""What the tests of the overseers share: transcripts of H's weak HCH steps."""

import numpy as np
import pytest

from ida.core.engine import Engine
from ida.domains.qa.amplify.decompose import Decomposition
from ida.domains.qa.overseers.learned_overseer import Transcribing


@pytest.fixture
def transcripts():
    """``transcripts(task, rounds=1, seed=0, level=None)``: H's steps on 64 random questions a
    round (up to ``level``), its subquestions answered by a noisy oracle."""
    return h_transcripts


def h_transcripts(task, rounds=1, seed=0, level=None):
    """H's steps on random questions, its subquestions answered by a noisy oracle."""
    rng = np.random.default_rng(seed)
    insts = [task.sample_instance(rng) for _ in range(8)]
    top = task.num_levels - 1 if level is None else level
    roots = [
        (i % 8, task.sample_question(rng, insts[i % 8], int(rng.integers(top + 1))))
        for i in range(64 * rounds)
    ]

    def noisy(items):
        answers = [task.solve(insts[slot], q) for slot, q in items]
        return [a if rng.random() < 0.7 else int(rng.integers(task.answer_size)) for a in answers]

    h = Transcribing(task)
    Decomposition(task, Engine(), 1, h).run(insts, roots, noisy)
    return h.transcript
