"""Held-out evaluation: the held-out set's shape and truth, accuracy per level as the true share
of right answers, and the adversary's ranking reported only where there is one."""

import numpy as np
import pytest
import torch
from torch import nn

from ida.domains.qa.adversary import Adversary
from ida.domains.qa.evaluate import evaluate, heldout_set
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import Instance
from ida.domains.qa.testing import small_shape

CPU = torch.device("cpu")


def instance_of(task, facts):
    """The permutation_powering instance whose facts these are: rows (x + 1, s(x) + 1)."""
    perm = np.empty(task.size, dtype=np.int64)
    perm[facts[:, 0] - 1] = facts[:, 1] - 1
    return Instance(facts=facts, data=perm)


def test_heldout_set_has_the_requested_questions_per_level_with_their_true_answers():
    """``per_level`` questions at every level, ``per_instance`` to an instance, each question of
    its level, each target the exact answer."""
    task = get_task("permutation_powering", 6)
    data = heldout_set(task, np.random.default_rng(3), per_level=24, per_instance=8)
    assert data.questions.shape == (3 * task.num_levels, 8, task.question_len)
    assert data.targets.shape == data.levels.shape == (3 * task.num_levels, 8)
    assert (data.levels == data.levels[:, :1]).all()  # an instance's questions share a level
    assert np.bincount(data.levels.ravel()).tolist() == [24] * task.num_levels
    for facts, questions, targets, levels in zip(
        data.facts, data.questions, data.targets, data.levels, strict=True
    ):
        inst = instance_of(task, facts)
        for q, target, level in zip(questions.tolist(), targets, levels, strict=True):
            assert task.solve(inst, tuple(q)) == target and task.level_of(inst, tuple(q)) == level
    again = heldout_set(task, np.random.default_rng(3), per_level=24, per_instance=8)
    assert (again.questions == data.questions).all()  # the same seed, the same questions


def test_heldout_set_keeps_a_per_level_that_is_no_multiple_of_per_instance():
    """``ida eval --per-level 12`` asks for 12 questions a level, and gets them."""
    task = get_task("union_find", 6)
    data = heldout_set(task, np.random.default_rng(0), per_level=12, per_instance=8)
    assert np.bincount(data.levels.ravel()).tolist() == [12] * task.num_levels


class Scripted(nn.Module):
    """A model whose answer to each (facts, question) is looked up in ``answers``; its logits
    put ``sure`` on that answer where it is right and ``unsure`` where it is wrong."""

    def __init__(self, answers, right, answer_size, sure=8.0, unsure=2.0):
        super().__init__()
        self.answers, self.right, self.answer_size = answers, right, answer_size
        self.sure, self.unsure = sure, unsure

    def forward(self, facts, questions, instance):
        keys = [key(facts[i], q) for i, q in zip(instance, questions, strict=True)]
        chosen = torch.tensor([self.answers[k] for k in keys])
        confidence = torch.tensor([self.sure if self.right[k] else self.unsure for k in keys])
        return confidence[:, None] * nn.functional.one_hot(chosen, self.answer_size).float()


def key(facts, question):
    return facts.numpy().tobytes(), tuple(question.tolist())


def scripted(task, data, right_share, seed=0):
    """A model right on about ``right_share[level]`` of each level's questions; and per question
    whether it is right."""
    rng = np.random.default_rng(seed)
    answers, right = {}, {}
    for facts, questions, targets, levels in zip(
        data.facts, data.questions, data.targets, data.levels, strict=True
    ):
        for q, target, level in zip(questions, targets, levels, strict=True):
            k = key(torch.from_numpy(facts), torch.from_numpy(q))
            if k not in answers:  # a question drawn twice gets one answer
                right[k] = bool(rng.random() < right_share[level])
                wrong = (target + 1 + rng.integers(task.answer_size - 1)) % task.answer_size
                answers[k] = int(target if right[k] else wrong)
    per_question = np.array(
        [
            [right[key(torch.from_numpy(f), torch.from_numpy(q))] for q in qs]
            for f, qs in zip(data.facts, data.questions, strict=True)
        ]
    )
    return Scripted(answers, right, task.answer_size), per_question


def test_accuracy_by_level_is_the_share_of_right_answers_at_each_level():
    """Whatever the batch size, each level's accuracy is the true share of questions the model
    answers right there, and ``accuracy`` their mean (each level counts alike)."""
    task = get_task("permutation_powering", 8)
    data = heldout_set(task, np.random.default_rng(0), per_level=40, per_instance=8)
    model, right = scripted(task, data, right_share=[1.0, 0.75, 0.5, 0.0])
    truth = [right[data.levels == lv].mean() for lv in range(task.num_levels)]
    assert truth[0] == 1 and truth[-1] == 0 and 0 < truth[2] < truth[1] < 1
    for batch_instances in (256, 3):  # all at once, and in batches that split the levels
        result = evaluate(model, data, CPU, batch_instances=batch_instances)
        assert result["accuracy_by_level"] == pytest.approx(truth)
        assert result["accuracy"] == pytest.approx(np.mean(truth))
        assert "adversary_spearman" not in result and "entropy_spearman" not in result


class Knowing:
    """An adversary that knows which answers are wrong: Adv = -1 there, 0 elsewhere."""

    def __init__(self, data):
        self.truth = {
            key(torch.from_numpy(f), torch.from_numpy(q)): int(t)
            for f, qs, ts in zip(data.facts, data.questions, data.targets, strict=True)
            for q, t in zip(qs, ts, strict=True)
        }

    def score(self, batch, answers):
        truth = [
            self.truth[key(batch.facts[i], q)]
            for i, q in zip(batch.instance, batch.questions, strict=True)
        ]
        return -(answers != torch.tensor(truth)).float()


def test_the_spearman_keys_appear_only_with_an_adversary_and_rank_by_the_true_loss():
    """With an adversary, ``adversary_spearman`` correlates -Adv with the model's true loss, and
    ``entropy_spearman`` the model's entropy: both positive here, where the adversary knows the
    wrong answers and the model is unsure of exactly those (within each group the ranks are ties
    broken by rounding, so the entropy's correlation is well short of 1)."""
    task = get_task("permutation_powering", 8)
    data = heldout_set(task, np.random.default_rng(1), per_level=16, per_instance=8)
    model, right = scripted(task, data, right_share=[0.5] * task.num_levels)
    assert 0.2 < right.mean() < 0.8
    result = evaluate(model, data, CPU, batch_instances=5, adversary=Knowing(data))
    assert result["adversary_spearman"] > 0.9
    assert result["entropy_spearman"] > 0.5
    plain = evaluate(model, data, CPU)
    assert set(result) - set(plain) == {"adversary_spearman", "entropy_spearman"}
    untrained = evaluate(model, data, CPU, adversary=Adversary(small_shape(task)))
    assert {"adversary_spearman", "entropy_spearman"} <= set(untrained)
