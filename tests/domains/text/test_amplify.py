"""Amplify(H, A) for text: the counts, the purity of expand, overseer failures, the supervised
baseline's labels and HCH without a model (A <- Distill(H))."""

import copy
from collections import Counter

import numpy as np
import torch

from ida.core.curriculum import Curriculum
from ida.domains.text.amplify import FAILED, MODEL, GroundTruth, TextAmplifier
from ida.domains.text.job import make_model
from ida.domains.text.model import ModelSettings
from ida.domains.text.questions import parse_question
from ida.domains.text.script import ScriptedH
from ida.domains.text.words import PAD, vocab

SMALL = ModelSettings(d_model=16, n_heads=2, enc_layers=1, dec_layers=1)


def amplifier(kind=TextAmplifier, overseer=None, level=3, **kwargs):
    curriculum = Curriculum(4)
    curriculum.level = level
    return kind(overseer or ScriptedH(), curriculum, 6, 4, 4, **kwargs)


class Broken:
    """An overseer that fails on every other step and says nonsense on the rest."""

    def __init__(self):
        self.counts = Counter()

    def moves(self, steps):
        self.counts["batches"] += 1
        return [None if i % 2 else {"ask": ["What is the weather?"]} for i in range(len(steps))]


def test_a_round_counts_overseer_and_model_calls_and_expand_is_pure():
    torch.manual_seed(0)
    amp, teacher = amplifier(), make_model(SMALL)
    rng = np.random.default_rng(0)
    work = amp.propose(rng)
    before = (copy.deepcopy(amp.counts), amp.curriculum.state_dict())
    done = amp.expand(teacher, work)
    assert (amp.counts, amp.curriculum.state_dict()) == before  # expand changed nothing
    hops = [q.hops for _, q, _ in work.roots]
    assert len(done.trees) == len(hops) == 16
    # H: one step for a one-hop root, else ask, ask, answer (or give up on a bad subanswer)
    steps = sum(1 for tree in done.trees for _ in [tree])
    models = sum(node.by == MODEL for tree in done.trees for node in tree.walk())
    assert done.counts["model_calls"] == models
    assert done.counts["overseer_calls"] >= steps
    assert done.counts["overseer_calls"] <= sum(1 if h == 1 else 3 for h in hops)
    for tree, h in zip(done.trees, hops, strict=True):
        for kid in tree.children:
            assert parse_question(kid.question).hops < h
    rows = amp.absorb(work, done, rng)
    assert amp.counts["overseer_calls"] == done.counts["overseer_calls"]
    assert rows.questions.shape[:2] == rows.targets.shape[:2] == (4, 4)
    has = rows.targets[..., 0] != PAD
    assert has.sum() == sum(t is not None for t in done.targets)


def test_the_overseer_is_asked_in_batches_and_its_failures_are_counted_not_raised():
    broken = Broken()
    amp = amplifier(overseer=broken)
    work = amp.propose(np.random.default_rng(1))
    done = amp.expand(make_model(SMALL), work)
    assert done.counts["overseer_failures"] == len(work.roots) == done.counts["overseer_calls"]
    assert broken.counts["batches"] == 1  # every root's first step in one call
    assert all(t is None for t in done.targets)
    assert all(tree.by == FAILED and tree.failure for tree in done.trees)
    rows = amp.absorb(work, done, np.random.default_rng(1))
    assert (rows.targets == PAD).all()


def test_hch_without_a_model_answers_every_question_rightly():
    amp = amplifier(use_model=False)
    work = amp.propose(np.random.default_rng(2))
    done = amp.expand(make_model(SMALL), work)
    truth = [work.worlds[s].follow(q.entity, q.relations) for s, q, _ in work.roots]
    assert done.targets == truth
    assert done.counts["model_calls"] == 0 and done.counts["overseer_failures"] == 0


def test_the_supervised_baseline_counts_labels_and_no_overseer():
    amp = amplifier(GroundTruth)
    rng = np.random.default_rng(3)
    work = amp.propose(rng)
    done = amp.expand(make_model(SMALL), work)
    assert done.counts == Counter(labels=16)
    rows = amp.absorb(work, done, rng)
    words = vocab()
    truth = [work.worlds[s].follow(q.entity, q.relations) for s, q, _ in work.roots]
    assert [words.decode(r) for r in rows.targets.reshape(16, -1)] == truth


def test_a_round_split_for_workers_merges_back_to_the_whole():
    torch.manual_seed(4)
    amp, teacher = amplifier(), make_model(SMALL)
    work = amp.propose(np.random.default_rng(4))
    whole = amp.expand(teacher, work)
    parts = amp.split(work, 3)
    assert len(parts) == 3 and sum(len(p.roots) for p in parts) == len(work.roots)
    merged = amp.merge(work, [amp.expand(teacher, part) for part in parts])
    assert merged.targets == whole.targets and merged.counts == whole.counts
    assert np.array_equal(merged.own, whole.own)
    assert len(amp.split(work, 10)) == 4  # one instance a part at most
