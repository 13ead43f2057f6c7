"""The reach profile: how soon the facts holding one question token lead to those holding
another."""

import numpy as np
import pytest
import torch

from ida.domains.qa.tasks import get_task


def test_the_reach_profile_reads_shortest_distances_and_first_steps(model_for, reading_for):
    """From the edges leaving a (question position 1, slot 0) to the edges entering b (position
    2, slot 1) along the graph's links: the first move count with a chance is dist(a, b) - 1.
    Weights falling with the move count make each edge leaving a prefer the soonest arrival,
    so the edge towards a shortest path draws the most attention."""
    task = get_task("shortest_path", 16)
    rng = np.random.default_rng(9)
    inst = task.sample_instance(rng)
    facts = torch.from_numpy(inst.facts)[None]
    steps, dist = 7, inst.data.dist
    pairs = [(a, b) for a in range(16) for b in range(16) if 1 <= dist[a, b] <= steps]
    questions = torch.tensor([task.question(1, a, b, steps) for a, b in pairs])
    model = model_for(task, reach={"moves": steps}, attention_sink={})
    reach = model.reach
    sets, kinds = reach.weight.shape[1:3]
    start, end, kind = 1 * 2 + 0, 2 * 2 + 1, 1 * 2 + 0  # (position, slot) sets, link (a, b)
    with torch.no_grad():
        weight = reach.features_in.weight.view(-1, sets, sets, kinds, steps)
        weight.zero_()
        weight[torch.arange(steps), start, end, kind, torch.arange(steps)] = 1.0
        reach.features_in.bias.zero_()
        reach.weight.zero_()
        reach.weight[:, end, kind] = 4.0 ** -torch.arange(steps)
        reading = reading_for(model, facts, questions)
        profile = reach.answer_input(reading)  # feature (start, end, kind, t) in entry t
    bias = reading.state["reach"]
    first = (profile[:, :steps] > -0.99).float().argmax(-1)
    assert first.tolist() == [dist[a, b] - 1 for a, b in pairs]
    assert bias.shape == (len(pairs), 2, 33)  # 32 facts and the sink
    for (a, b), row in zip(pairs, bias[:, 0], strict=True):
        leaving = [f for f, (u, _) in enumerate(inst.facts - 3) if u == a]
        best = max(leaving, key=lambda f: row[f])
        assert dist[inst.facts[best, 1] - 3, b] == dist[a, b] - 1
    last = reach.decoder_bias(1, True, reading)
    assert reach.decoder_bias(0, False, reading) is None
    assert torch.equal(last, 10 * bias[:, :, None])


def test_too_many_profile_features_are_an_error(model_for):
    """The profile grows as moves x fact_len^4 x (question_len + 1)^2: on wildcard patterns of
    four bits (facts of five slots) one move is allowed, four are refused, the count said."""
    task = get_task("wildcard_search", 8)
    model_for(task, reach={"moves": 1})
    with pytest.raises(ValueError, match="62,500 profile features"):
        model_for(task, reach={"moves": 4})
