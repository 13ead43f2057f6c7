"""The answer slot's match: the answer slot's relational bias from the whole question."""

import numpy as np
import torch

from ida.core.layers import Attention
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.wildcard_search import STAR


def test_the_answer_slot_can_land_on_the_facts_that_match_the_whole_question(
    model_for, monkeypatch
):
    """With the answer slot's match the answer slot's attention can rest on exactly the strings
    that match every fixed bit of a wildcard pattern, where each position alone matches about
    half of them (the biases alone here: no query weights)."""
    task = get_task("wildcard_search", 8)
    rng = np.random.default_rng(6)
    inst = task.sample_instance(rng)
    model = model_for(task, answer_match={}, dec_layers=1)
    with torch.no_grad():
        model.decoder[0].cross.query.weight.zero_()
        model.decoder[0].cross.query.bias.zero_()
        model.question_relation.zero_()
        model.answer_match.relation.zero_()
        for p in range(task.width):
            model.answer_match.relation[0, :, p, p] = 3.0
    seen = []
    attend = Attention.attend

    def recording(self, q, k, v, bias, weights=False):
        out, attention = attend(self, q, k, v, bias, weights=True)
        seen.append(attention)
        return out, attention if weights else None

    monkeypatch.setattr(Attention, "attend", recording)
    strings = inst.facts[:, :-1]
    for level in (1, 2, 3):
        question = task.sample_question(rng, inst, level)
        matches = ((np.array(question) == STAR) | (strings == question)).all(1)
        with torch.no_grad():
            model(torch.from_numpy(inst.facts)[None], torch.tensor([question]), torch.tensor([0]))
        landed = seen[-1][0, :, -1]  # the decoder's cross-attention, from the answer slot
        expected = torch.from_numpy(matches / max(matches.sum(), 1)).float()
        assert matches.any() and torch.allclose(landed, expected.expand_as(landed), atol=1e-6)
