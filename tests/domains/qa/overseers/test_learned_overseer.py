"""The learned overseer H': a stand-in fan in weak HCH, learning H's steps, and H' standing in
for H in adversarial amplification (the confidence threshold, the model's own tree); its config
rules and a run end to end. (The fan model: test_fan_model.py; the budget on H:
tests/domains/qa/amplify/test_learned.py.)"""

import numpy as np
import pytest
import torch

from ida.core.errors import IdaError
from ida.core.runs.run import train
from ida.domains.qa.adversary import Adversary
from ida.domains.qa.amplify.adversarial import AdversarialAmplifier, Selection
from ida.domains.qa.config import qa_config
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.overseers.learned_overseer import LearnedOverseer, transcript_steps
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import weak_hch
from ida.domains.qa.testing import OracleAsk, oracle_answer, run_sync, small_round, small_shape
from ida.domains.qa.trace import LEARNED, overseer_calls


def test_weak_hch_with_a_stand_in_fan_runs_its_steps_and_forces_an_answer():
    """Weak HCH run by a stand-in fan (here H itself) answers as H does; the record holds every
    step; a fan that never answers is made to at its last turn."""
    task = get_task("permutation_powering", 8)
    rng = np.random.default_rng(0)
    inst = task.sample_instance(rng)
    q = task.question(2, 7)

    async def h_fan(inst, question, answered, last):  # H itself, as a stand-in
        return task.next_step(inst, question, answered)

    ask = OracleAsk(task, inst)
    assert run_sync(weak_hch(task, inst, q, ask, fan=h_fan)) == oracle_answer(task, inst, q)[0]
    record = []
    run_sync(weak_hch(task, inst, q, OracleAsk(task, inst), record=record))
    assert [r[1] for r in record] == [q] * len(record) and not isinstance(record[-1][3], tuple)

    async def never_answers(inst, question, answered, last):
        return 5 if last else (question,)

    assert run_sync(weak_hch(task, inst, q, OracleAsk(task, inst), fan=never_answers)) == 5


def test_h_prime_learns_hs_steps(transcripts):
    torch.manual_seed(0)
    task = get_task("union_find", 6)
    imitation = LearnedOverseer(task, small_shape(task), torch.device("cpu"), 3e-3, min_held=8)
    steps = transcript_steps(task, transcripts(task, rounds=2))
    imitation.add(steps)
    first, _ = imitation.validate(steps)
    imitation.train(80, np.random.default_rng(0))
    last, right = imitation.validate(steps)
    assert last < 0.5 * first
    assert right.mean() > 0.5
    assert imitation.accuracy.max() > 0  # measured on the held-out eighth


def adversarial(task, **kwargs):
    imitation = LearnedOverseer(task, small_shape(task), torch.device("cpu"))
    imitation.trust = 0.0
    return AdversarialAmplifier(
        task,
        **small_round(task, per_instance=4),
        selection=Selection("adversary"),
        adversary=Adversary(small_shape(task)),
        max_consults=16,
        learned_overseer=imitation,
        **kwargs,
    )


def test_where_the_adversary_is_confident_the_amplified_model_stands_in_for_h():
    torch.manual_seed(0)
    task = get_task("permutation_powering", 8)
    amp = adversarial(task, confidence=-1.0)  # every score passes: H' stands in everywhere
    amp.curriculum.level = task.num_levels - 1
    exp = amp.amplify(QAModel(small_shape(task)), np.random.default_rng(0))
    assert overseer_calls(amp.counts) == 0
    assert amp.counts[LEARNED] == 16 and (exp.targets >= 0).sum() == 16
    amp = adversarial(task)  # no threshold: H handles every training question
    amp.amplify(QAModel(small_shape(task)), np.random.default_rng(0))
    assert overseer_calls(amp.counts) >= 16 and amp.counts[LEARNED] == 0
    assert len(amp.learned_overseer.buffer.stored()) > 0  # H's steps were recorded for H'


def test_the_models_own_tree_gives_targets_without_calls_to_h():
    torch.manual_seed(0)
    task = get_task("union_find", 8)
    plain = adversarial(task)
    own = adversarial(task, own_tree=3)
    model = QAModel(small_shape(task))
    a = plain.amplify(model, np.random.default_rng(0))
    b = own.amplify(model, np.random.default_rng(0))
    h = [overseer_calls(amp.counts) for amp in (plain, own)]
    assert h[0] == h[1]  # the same calls to H
    assert (b.targets >= 0).sum() == (a.targets >= 0).sum() + 4 * 3  # and 3 more per instance
    assert own.counts[LEARNED] == 12


def test_config_rules_for_the_learned_overseer(tiny):
    with pytest.raises(IdaError, match="human_budget"):
        qa_config(tiny, human_budget=10)
    with pytest.raises(IdaError, match="adversarial"):
        qa_config(tiny, overseer="learned", amplify="adversarial")
    with pytest.raises(IdaError, match="adversarial"):
        qa_config(tiny, own_tree=2)
    with pytest.raises(IdaError, match="depth"):
        qa_config(tiny, overseer="learned", depth=2)
    qa_config(tiny, overseer="learned", human_budget=10)
    qa_config(tiny, amplify="adversarial", confidence=-0.1, own_tree=2)


def test_learned_overseer_runs_end_to_end_within_its_budget(tmp_path, tiny):
    from rich.console import Console

    cfg = qa_config(tiny, overseer="learned", human_budget=100)
    summary = train(cfg, tmp_path / "run", console=Console(quiet=True))
    assert 0 < summary["overseer_calls"] <= 100
    assert summary["steps"] == 20 and "learned_accuracy" in summary
    from ida.core.runs.run import load_job
    from ida.domains.qa.show import render_tree

    console = Console(record=True, width=120)
    console.print(render_tree(load_job(tmp_path / "run"), None, 0))
    assert "[learned]" in console.export_text()  # ``ida show`` draws H''s decomposition
