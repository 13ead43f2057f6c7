"""Adversarial IDA: selection rules, the adversary, adversarial amplification end to end."""

import numpy as np
import pytest
import torch
from rich.console import Console

from ida.core.errors import IdaError
from ida.core.runs.run import train
from ida.domains.qa.adversary import Adversary, spearman
from ida.domains.qa.amplify.adversarial import AdversarialAmplifier, Selection
from ida.domains.qa.config import qa_config
from ida.domains.qa.tasks import get_task
from ida.domains.qa.testing import fit, small_round, small_shape
from ida.domains.qa.trace import MODEL


def test_gumbel_selection_picks_with_the_boltzmann_probabilities():
    rng = np.random.default_rng(0)
    rule = Selection("adversary", temperature=0.3)
    scores = [-0.8, -0.3]
    expected = np.exp(-np.array(scores) / 0.3)
    expected /= expected.sum()
    assert rule.probabilities(scores, 2) == pytest.approx(expected)
    n = 20000
    picks = np.array([rule.choose(scores, 2, rng) for _ in range(n)])
    assert (picks.sum(1) == 1).all()  # exactly one goes to H
    sigma = np.sqrt(expected[0] * (1 - expected[0]) / n)
    assert abs(picks[:, 0].mean() - expected[0]) < 4 * sigma
    assert rule.choose([-0.1], 1, rng) == [True]  # a lone subquestion always goes to H


def test_per_subquestion_variant_sends_zero_one_or_two_with_the_set_probabilities():
    rng = np.random.default_rng(1)
    rule = Selection("adversary", per_subquestion=True, tau=-0.5, alpha=0.2)
    scores = [-0.9, -0.3]
    p = 1 / (1 + np.exp(-(-0.5 - np.array(scores)) / 0.2))
    want = [(1 - p[0]) * (1 - p[1]), p[0] * (1 - p[1]) + p[1] * (1 - p[0]), p[0] * p[1]]
    n = 20000
    counts = np.bincount([sum(rule.choose(scores, 2, rng)) for _ in range(n)], minlength=3) / n
    for got, expect in zip(counts, want, strict=True):
        assert abs(got - expect) < 4 * np.sqrt(expect * (1 - expect) / n) + 1e-9


def test_random_and_all_rules():
    rng = np.random.default_rng(2)
    picks = np.array([Selection("random").choose(None, 2, rng) for _ in range(4000)])
    assert (picks.sum(1) == 1).all() and abs(picks[:, 0].mean() - 0.5) < 0.04
    assert Selection("all").choose(None, 2, rng) == [True, True]
    with pytest.raises(ValueError):
        Selection("random", per_subquestion=True)


def test_spearman():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert spearman(
        np.array([1.0, 1.0, 2.0, 2.0]), np.array([0.0, 0.0, 1.0, 1.0])
    ) == pytest.approx(1)
    assert spearman(x, np.ones(4)) == 0.0


def oracle_fns(task, insts):
    def answer(items):
        return [task.solve(insts[slot], q) for slot, q in items]

    def wrong(items):  # a model that is always wrong
        return [(task.solve(insts[slot], q) + 1) % task.answer_size for slot, q in items]

    return answer, wrong


def amplifier(task, select="adversary", **kwargs):
    return AdversarialAmplifier(
        task,
        **small_round(task),
        selection=Selection(select, **kwargs),
        adversary=None if select != "adversary" else Adversary(small_shape(task)),
        max_consults=64,
    )


def round_of(task, amp, rng):
    insts, _, roots = amp.sample_round(rng)
    return insts, roots


@pytest.mark.parametrize("name", ["wildcard_search", "shortest_path", "sequential_assignments"])
def test_consulting_h_where_the_model_is_wrong_gives_exact_answers(name):
    # The adversary here is an oracle: lowest score exactly where the model's answer is wrong.
    task = get_task(name, 8)
    amp = amplifier(task, "uncertainty", per_subquestion=True, tau=-0.5, alpha=0.01)
    rng = np.random.default_rng(0)
    amp.curriculum.level = task.num_levels - 1
    insts, roots = round_of(task, amp, rng)
    answer, _ = oracle_fns(task, insts)

    def wrong_half(items):  # right on even instance slots, wrong on odd ones
        return [
            a if slot % 2 == 0 else (a + 1) % task.answer_size
            for (slot, _), a in zip(items, answer(items), strict=True)
        ]

    def oracle_score(items):
        return [0.0 if a == answer([(s, q)])[0] else -1.0 for s, q, a in items]

    trees, records = amp.run(insts, roots, wrong_half, oracle_score, rng)
    for (slot, q), tree, record in zip(roots, trees, records, strict=True):
        assert tree.answer == task.solve(insts[slot], q)
        assert record[0] is tree
        model_nodes = [n for n in tree.walk() if n.by == MODEL]
        assert all(n.answer == task.solve(insts[slot], n.question) for n in model_nodes)
        if slot % 2 == 0:
            assert len(record) == 1  # the model was right everywhere: H only at the root


def test_h_at_every_node_is_hch_and_the_budget_caps_consultations():
    task = get_task("wildcard_search", 8)
    rng = np.random.default_rng(3)
    amp = amplifier(task, "all")
    amp.curriculum.level = task.num_levels - 1
    insts, roots = round_of(task, amp, rng)
    _, wrong = oracle_fns(task, insts)
    trees, records = amp.run(insts, roots, wrong, None, rng)
    for (slot, q), tree in zip(roots, trees, strict=True):
        assert tree.answer == task.solve(insts[slot], q)  # the model's wrong answers never used
    capped = amplifier(task, "all")
    capped.max_consults = 3
    _, records = capped.run(insts, roots, wrong, None, rng)
    assert max(len(r) for r in records) == 3


def test_training_the_adversary_lowers_its_loss_on_a_fixed_set():
    """Fitted to a set where A is right on half the nodes, -Adv(Q, A) is the probability that A
    is wrong: every wrong answer scores below every right one, and 1 + Adv averages to the share
    of right answers."""
    torch.manual_seed(0)
    task = get_task("union_find", 8)
    amp = amplifier(task, "all")
    amp.curriculum.level = task.num_levels - 1
    from ida.domains.qa.models.transformer import QAModel

    exp = amp.amplify(QAModel(small_shape(task)), np.random.default_rng(0))
    batch = exp.batch()
    rng = np.random.default_rng(1)
    answers = torch.from_numpy(rng.integers(task.answer_size, size=len(batch.targets)))
    answers[::2] = batch.targets[::2].clamp(min=0)  # right on half of the nodes
    adversary = Adversary(small_shape(task))
    model_logits = torch.nn.functional.one_hot(answers, task.answer_size).float()  # A's answers
    first = adversary.loss(batch, model_logits).item()
    fit(adversary, lambda: adversary.loss(batch, model_logits))
    assert adversary.loss(batch, model_logits).item() < 0.7 * first
    scores = adversary.score(batch, answers)[batch.judged]
    right = (answers == batch.targets)[batch.judged]
    assert 0 < right.sum() < len(right)
    assert scores[~right].max() < scores[right].min()
    assert (1 + scores).mean().item() == pytest.approx(right.float().mean().item(), abs=0.05)


@pytest.mark.parametrize(
    "extra",
    [
        {"select": "adversary"},
        {"select": "adversary", "per_subquestion": True, "anneal_rounds": 5, "alpha_end": 0.01},
        {"select": "uncertainty"},
        {"select": "random"},
        {"select": "all", "warm_start_steps": 5},
        {"select": "adversary", "overseer": "noisy", "noise_rate": 0.1},
        {"select": "uncertainty", "per_subquestion": True, "screen_roots": True, "tau": -1.0},
    ],
)
def test_adversarial_runs_end_to_end(tmp_path, tiny, extra):
    cfg = qa_config(tiny, task="wildcard_search", amplify="adversarial", **extra)
    summary = train(cfg, tmp_path / "run", console=Console(quiet=True))
    assert summary["overseer_calls"] > 0 and summary["labels"] == 0
    assert ("adversary_spearman" in summary) == (cfg.select == "adversary")


def test_adversarial_needs_a_weak_hch_task_and_imitation(tmp_path, tiny):
    with pytest.raises(IdaError, match="adversarial"):
        qa_config(tiny, amplify="adversarial", distill="reinforce")
    with pytest.raises(IdaError, match="per_subquestion"):
        qa_config(tiny, amplify="adversarial", select="random", per_subquestion=True)
    with pytest.raises(IdaError, match="screen_roots"):
        qa_config(tiny, amplify="adversarial", screen_roots=True)


def test_screened_roots_go_to_h_only_where_the_model_is_suspect():
    task = get_task("wildcard_search", 8)
    amp = amplifier(task, "uncertainty", per_subquestion=True, tau=-0.5, alpha=0.01)
    amp.screen_roots = True
    rng = np.random.default_rng(5)
    amp.curriculum.level = task.num_levels - 1
    insts, roots = round_of(task, amp, rng)
    answer, _ = oracle_fns(task, insts)

    def wrong_half(items):
        return [
            a if slot % 2 == 0 else a + 1 for (slot, _), a in zip(items, answer(items), strict=True)
        ]

    def oracle_score(items):
        return [0.0 if a == answer([(s, q)])[0] else -1.0 for s, q, a in items]

    trees, records = amp.run(insts, roots, wrong_half, oracle_score, rng)
    for (slot, q), tree, record in zip(roots, trees, records, strict=True):
        assert tree.answer == task.solve(insts[slot], q)
        assert (len(record) == 0) == (slot % 2 == 0)  # trusted roots never reach H


def test_noisy_overseer_errs_at_its_rate_reproducibly():
    from ida.domains.qa.overseers.demonstrators import Noisy
    from ida.domains.qa.testing import OracleAsk, run_sync

    task = get_task("wildcard_search", 8)
    noisy = Noisy(task, 0.1)
    rng = np.random.default_rng(0)
    wrong = []
    for _ in range(200):
        inst = task.sample_instance(rng)
        for level in range(task.num_levels):
            q = task.sample_question(rng, inst, level)
            got = run_sync(noisy(inst, q, OracleAsk(task, inst)))
            assert got == run_sync(noisy(inst, q, OracleAsk(task, inst)))
            wrong.append(got != task.solve(inst, q))
    assert abs(np.mean(wrong) - 0.1) < 0.03


def test_a_task_without_weak_hch_cannot_be_amplified_adversarially(tmp_path, tiny):
    from ida.domains.qa.tasks import TASKS, register
    from ida.domains.qa.tasks.base import Task

    base = get_task("permutation_powering", 6)

    @register
    class AsyncOnly(type(base)):
        name = "async_only_test_task"

        async def overseer(self, inst, question, ask):
            return await type(base).overseer(self, inst, question, ask)

        fan_out = Task.fan_out
        fan_in = Task.fan_in

    try:
        cfg = qa_config(tiny, task="async_only_test_task", amplify="adversarial")
        with pytest.raises(IdaError, match="fan_out"):
            train(cfg, tmp_path / "run", console=Console(quiet=True))
        assert not (tmp_path / "run").exists()
    finally:
        del TASKS["async_only_test_task"]


@pytest.mark.parametrize("name", ["wildcard_search", "shortest_path"])
def test_audit_finds_an_injected_error_along_the_suspect_path(name):
    from ida.domains.qa.audit import inject_error, inspection_order, unfold

    task = get_task(name, 8)
    rng = np.random.default_rng(0)
    straight, totals = 0, np.zeros(2)
    for _ in range(20):
        inst = task.sample_instance(rng)
        q = task.sample_question(rng, inst, task.num_levels - 1)
        truth, _ = oracle_fns(task, [inst])
        (root,) = unfold(task, [inst], [(0, q)], truth)
        assert all(n.answer == task.solve(inst, n.question) for n in root.walk())
        assert all(n.guess in (None, n.answer) for n in root.walk())  # a consistent tree
        target = inject_error(task, inst, root, rng)
        assert target is not None and root.answer != task.solve(inst, q)

        def oracle(node, inst=inst):  # a perfect adversary: wrong answers score -1
            return -float(node.answer != task.solve(inst, node.question))

        bfs = inspection_order(root, oracle, "bfs")
        best = inspection_order(root, oracle, "adversary")
        assert sorted(map(id, bfs)) == sorted(map(id, best)) == sorted(map(id, root.walk()))
        found = best.index(target) + 1
        path = [n for n in root.walk() if target in list(n.walk())]  # the target's ancestry
        if all(oracle(n) < 0 for n in path):  # the error flowed all the way up (no clamping)
            assert found == target.depth + 1  # straight down the wrong path
            straight += 1
        totals += np.array([found, bfs.index(target) + 1])
    assert straight >= 10 and totals[0] < totals[1] / 2


def test_ida_audit_shows_a_trained_models_tree(tmp_path, tiny):
    from ida.core.runs.run import load_job
    from ida.domains.qa.show import render_audit

    cfg = qa_config(tiny, task="wildcard_search", amplify="adversarial")
    train(cfg, tmp_path / "run", console=Console(quiet=True))
    console = Console(record=True, width=200)
    console.print(render_audit(load_job(tmp_path / "run"), None, 0, 5, "adversary"))
    text = console.export_text()
    assert "adversary order" in text and "nodes;" in text
    assert "│ 5 │" in text and "│ 6 │" not in text  # --limit 5
    from ida.domains.qa.show import render_tree

    console.print(render_tree(load_job(tmp_path / "run"), None, 0))
    assert "(score -" in console.export_text()  # ida show draws the adversarial tree


def test_a_round_where_h_judges_nothing_still_trains(tmp_path, tiny):
    # tau far below any score: every training question is screened out, H is never asked
    cfg = qa_config(
        tiny,
        amplify="adversarial",
        select="uncertainty",
        per_subquestion=True,
        screen_roots=True,
        tau=-100.0,
    )
    summary = train(cfg, tmp_path / "run", console=Console(quiet=True))
    assert summary["overseer_calls"] == 0 and summary["steps"] == 20
