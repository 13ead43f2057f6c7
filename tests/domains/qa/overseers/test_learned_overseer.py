"""The learned overseer H': swap symmetry, learning H's steps, the budget on H, and H' standing in
for H (the confidence threshold, the model's own tree)."""

import dataclasses

import numpy as np
import pytest
import torch

from ida.core.engine import Engine
from ida.core.errors import IdaError
from ida.core.runs.run import train
from ida.domains.qa.adversary import Adversary
from ida.domains.qa.amplify.adversarial import AdversarialAmplifier, Selection
from ida.domains.qa.amplify.decompose import Decomposition
from ida.domains.qa.amplify.learned import LearnedOverseerAmplifier
from ida.domains.qa.config import qa_config
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.overseers.fan_model import FanModel, decode_steps, encode_step, fan_loss
from ida.domains.qa.overseers.learned_overseer import (
    LearnedOverseer,
    Transcribing,
    transcript_steps,
)
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import weak_hch
from ida.domains.qa.testing import OracleAsk, oracle_answer, run_sync, small_round, small_shape
from ida.domains.qa.trace import LEARNED, overseer_calls

TASKS = ["permutation_powering", "shortest_path", "union_find", "wildcard_search"]


def transcripts(task, rounds=1, seed=0, level=None):
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


@pytest.mark.parametrize("relational", [True, False])
@pytest.mark.parametrize("name", TASKS)
def test_swapping_the_subquestions_leaves_fan_out_and_fan_in_unchanged(name, relational):
    torch.manual_seed(0)
    task = get_task(name, 6)
    model = FanModel(dataclasses.replace(small_shape(task), relational=relational))
    steps = transcript_steps(task, transcripts(task))
    t = {k: torch.from_numpy(a) for k, a in steps.arrays().items()}
    index = torch.arange(len(steps))
    swapped = t["answered"].flip(1)
    assert not torch.equal(swapped, t["answered"])  # some steps do have two answered slots
    with torch.no_grad():
        out = model(t["facts"], t["questions"], t["answered"], index)
        out_swapped = model(t["facts"], t["questions"], swapped, index)
    for a, b in zip(out, out_swapped, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_steps_encode_subquestions_in_canonical_order():
    a, b = (3, 4, 5), (1, 2, 9)
    kind, _, subs = encode_step((a, b), 3)
    kind2, _, subs2 = encode_step((b, a), 3)
    assert kind == kind2 == 2 and (subs == subs2).all() and tuple(subs[0]) == b
    assert encode_step(7, 3)[:2] == (0, 7)


def test_weak_hch_with_a_stand_in_fan_runs_its_steps_and_forces_an_answer():
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


def test_h_prime_learns_hs_steps():
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


def test_h_prime_decodes_the_steps_it_predicts():
    task = get_task("shortest_path", 6)
    model = FanModel(small_shape(task))
    steps = transcript_steps(task, transcripts(task))
    t = {k: torch.from_numpy(a) for k, a in steps.arrays().items()}
    with torch.no_grad():
        logits = model(t["facts"], t["questions"], t["answered"], torch.arange(len(steps)))
    decoded = decode_steps(logits, [True] * len(steps))
    assert all(isinstance(s, int) for s in decoded)  # "last" forces an answer
    assert fan_loss(logits, t["kind"], t["answer"], t["subs"]).item() > 0


def learned(task, budget, rounds=10, **kwargs):
    torch.manual_seed(0)
    imitation = LearnedOverseer(task, small_shape(task), torch.device("cpu"))
    return LearnedOverseerAmplifier(
        task,
        **small_round(task),
        learned_overseer=imitation,
        human_budget=budget,
        rounds=rounds,
        **kwargs,
    )


def test_the_budget_on_h_is_never_exceeded():
    task = get_task("wildcard_search", 6)
    amp = learned(task, budget=70, rounds=4)
    model = QAModel(small_shape(task))
    rng = np.random.default_rng(0)
    spent = []
    for _ in range(6):
        exp = amp.amplify(model, rng)
        spent.append(overseer_calls(amp.counts))
        assert (exp.targets >= 0).sum() <= 32
    assert spent[-1] <= 70
    assert spent[0] <= 2 * 70 / 4 + 1  # paced: a round spends at most twice its even share
    assert amp.counts[LEARNED] == 0  # H' is not trusted yet: it decomposed nothing
    assert len(amp.learned_overseer.buffer.stored()) > 0  # but it learns from every step H took


def test_trusted_h_prime_takes_over_and_h_keeps_a_small_share():
    task = get_task("union_find", 6)
    amp = learned(task, budget=0, min_share=0.25)
    amp.learned_overseer.trust = 0.0  # trusted everywhere from the start
    exp = amp.amplify(QAModel(small_shape(task)), np.random.default_rng(1))
    h_calls = overseer_calls(amp.counts)
    assert (exp.targets >= 0).all()  # every question got a target
    assert amp.counts[LEARNED] + h_calls == 32 and 0 < h_calls < 16
    assert amp.h_share == pytest.approx(h_calls / 32)


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
