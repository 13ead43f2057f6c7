"""The IDA loop: amplification as propose, expand, absorb; the loop's schedule of amplifying,
distilling and evaluating; and an amplifier whose expand is pure, with its state changed only
by absorb."""

import copy
from collections import Counter

import numpy as np
import torch

from ida.core.loop import Loop, amplify
from ida.domains.qa.amplify.decompose import DecompositionAmplifier
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.tasks import get_task
from ida.domains.qa.testing import small_round, small_shape
from ida.domains.qa.trace import overseer_calls


class FakeAmplifier:
    """Records each call; each part's result names what it was given."""

    def __init__(self, name, log):
        self.name, self.log, self.counts = name, log, Counter()

    def propose(self, rng):
        self.log.append(("propose", self.name))
        return f"{self.name} work"

    def expand(self, teacher, work):
        self.log.append(("expand", teacher, work))
        return f"trees of {work}"

    def absorb(self, work, trees, rng):
        self.log.append(("absorb", work, trees))
        return f"experience from {trees}"


class FakeDistiller:
    def __init__(self, log):
        self.log, self.teacher, self.steps = log, "teacher", 0

    def add(self, experience):
        self.log.append(("add", experience))

    def step(self, rng):
        self.steps += 1
        self.log.append(("step", self.steps))
        return {"loss": 1.0 / self.steps}


def test_amplify_proposes_expands_with_the_teacher_and_absorbs_in_order():
    """One round is propose, then expand of that work with the teacher, then absorb of both."""
    log = []
    rng = np.random.default_rng(0)
    assert amplify(FakeAmplifier("A", log), "teacher", rng) == "experience from trees of A work"
    assert log == [
        ("propose", "A"),
        ("expand", "teacher", "A work"),
        ("absorb", "A work", "trees of A work"),
    ]


def test_the_loop_amplifies_every_few_steps_warm_starts_and_evaluates_on_schedule():
    """Rounds come every ``amplify_every`` steps, from the warm start while the step is below
    ``warm_start_steps``; evaluations every ``eval_every`` steps and at the end; a resumed loop
    goes on from its step."""
    log, evals, stepped = [], [], []
    distiller = FakeDistiller(log)
    loop = Loop(
        amplifier=FakeAmplifier("main", log),
        distiller=distiller,
        evaluate=lambda: {"at": distiller.steps},
        amplify_every=2,
        warm_start=FakeAmplifier("warm", log),
        warm_start_steps=4,
    )
    loop.run(5, np.random.default_rng(0), 2, evals.append, lambda lp: stepped.append(lp.step))
    added = [entry[1] for entry in log if entry[0] == "add"]
    assert added == [
        "experience from trees of warm work",  # step 0
        "experience from trees of warm work",  # step 2
        "experience from trees of main work",  # step 4: warm starting is over
    ]
    assert [entry[0] for entry in log[:5]] == ["propose", "expand", "absorb", "add", "step"]
    assert evals == [{"at": 2}, {"at": 4}, {"at": 5}]
    assert stepped == [1, 2, 3, 4, 5] and loop.step == 5 and loop.last == {"loss": 1 / 5}
    log.clear()
    loop.run(7, np.random.default_rng(0), 2, evals.append)
    assert [entry[1] for entry in log if entry[0] == "add"] == [
        "experience from trees of main work"  # step 6 only: step 5 is no round's start
    ]
    assert evals[3:] == [{"at": 6}, {"at": 7}]


def decomposition_amplifier():
    task = get_task("union_find", 6)
    return DecompositionAmplifier(task, **small_round(task)), QAModel(small_shape(task))


def test_expand_is_pure_and_absorb_applies_the_round_to_the_amplifiers_state():
    """DecompositionAmplifier's expand changes neither its counts nor its curriculum (nor the
    work), and gives the same trees again; absorb then adds the round's cost and agreement."""
    torch.manual_seed(0)
    amp, teacher = decomposition_amplifier()
    rng = np.random.default_rng(0)
    work = amp.propose(rng)
    before = copy.deepcopy((amp.counts, amp.curriculum.state_dict(), work))
    done = amp.expand(teacher, work)
    assert (amp.counts, amp.curriculum.state_dict()) == before[:2]
    assert work.roots == before[2].roots and (work.judged == before[2].judged).all()
    again = amp.expand(teacher, work)
    assert (again.targets, again.own, again.counts) == (done.targets, done.own, done.counts)
    assert (amp.counts, amp.curriculum.state_dict()) == before[:2]
    amp.absorb(work, done, rng)
    judged = int(work.judged.sum())
    assert amp.counts == before[0] + done.counts
    assert overseer_calls(amp.counts) == judged  # one call to H per root, at depth 1
    assert amp.curriculum.state_dict()["seen"] == judged  # every root is at level 0 here
