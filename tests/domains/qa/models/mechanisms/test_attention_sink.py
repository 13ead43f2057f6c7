"""The attention sink: one learned null entry per decoder layer after the instance's facts."""

import numpy as np
import torch

from ida.domains.qa.tasks import get_task


def test_the_sink_is_a_null_entry_after_the_facts(model_for):
    """With the sink every instance's memory ends in one learned entry that no relational bias
    touches: it stays open when every fact is padding, and attention can rest on it (nothing
    matched) instead of being forced onto some fact."""
    task = get_task("wildcard_search", 8)
    inst = task.sample_instance(np.random.default_rng(4))
    facts = torch.from_numpy(inst.facts)[None]
    empty = torch.zeros_like(facts)
    model = model_for(task, attention_sink={}, relation_prior=0.2)
    memory = model.encode(torch.cat([facts, empty]))
    assert memory.kv[0][0].shape[2] == facts.shape[1] + 1
    assert torch.equal(memory.mask[1, 0, 0], torch.tensor([float("-inf")] * 8 + [0.0]))
    question = torch.tensor([task.sample_question(np.random.default_rng(5), inst, 1)])
    index = torch.tensor([0])
    with torch.no_grad():
        assert torch.isfinite(model(empty, question, index)).all()
        before = model(facts, question, index), model(facts.flip(-1), question, index)
        d = model.shape.d_model  # make the sink's key dominate every query's scores
        model.attention_sink.entries.fill_(100.0)
        for block in model.decoder:
            block.cross.key_value.weight[:d].copy_(torch.eye(d))
            block.cross.key_value.bias.zero_()
            block.cross.query.weight.zero_()
            block.cross.query.bias.fill_(1.0)
        after = model(facts, question, index), model(facts.flip(-1), question, index)
    assert not torch.allclose(*before, atol=1e-3)  # the facts matter...
    assert torch.allclose(*after, atol=1e-5)  # ...until all attention rests on the sink
