"""The link walk: the decoder walks the facts' token links, read off the tokens."""

import numpy as np
import pydantic
import pytest
import torch

from ida.core.layers import FLOOR, Groups
from ida.domains.qa.models.transformer import ModelSettings
from ida.domains.qa.tasks import get_task


@pytest.mark.parametrize("kind", ["successor", "predecessor"])
def test_the_link_walk_ends_as_many_moves_on_as_it_asks(kind, model_for):
    """Started on the fact for x (question position 0, slot 0) and moving along the link "my y is
    your x", t moves end on the fact for s^t(x); along "my x is your y", on the fact for
    s^-t(x). A fact's own slot matching itself is no move: mixed in as much, the kinds x -> x and
    y -> y lead nowhere and the walk ends where the one kind leads. But a fact's y matching its
    own x is a move: the walk stays on a fixed point s(x) = x."""
    task = get_task("permutation_powering", 16)
    inst = task.sample_instance(np.random.default_rng(9))
    assert sum(int(inst.data[x]) == x for x in range(task.size)) == 3  # three fixed points
    facts = torch.from_numpy(inst.facts)[None]
    row = {int(x) - 1: f for f, x in enumerate(inst.facts[:, 0])}
    back = {int(y): x for x, y in enumerate(inst.data)}
    model = model_for(task, link_walk={"moves": task.size}, attention_sink={})
    walker = model.link_walk
    with torch.no_grad():
        walker.start.copy_(torch.tensor([5.0, 0, 0, 0]))  # position 0, slot 0: the fact for x
        walker.kinds.zero_()
        walker.kinds[1 * 2 + 0 if kind == "successor" else 0 * 2 + 1] = 5.0
        walker.kinds[[0 * 2 + 0, 1 * 2 + 1]] = 5.0  # x -> x, y -> y: no moves
        memory = model.encode(facts)
    for t in range(task.size + 1):
        xs = list(range(task.size))
        questions = torch.tensor([task.question(x, 1) for x in xs])
        match = (questions[:, :, None, None] == facts).float()
        state = torch.zeros(len(xs), 32)
        with torch.no_grad():
            walker.moves.weight.zero_()
            walker.moves.bias.copy_(torch.eye(task.size + 1)[t] * 50.0)
            groups = Groups(torch.zeros(len(xs), dtype=torch.long), 1)
            trail = walker.walk(match, state, memory.tables["link_walk"], groups)
        assert trail.shape == (len(xs), task.size)  # one entry per fact: the sink is no end
        ends = []
        for x in xs:
            for _ in range(t):
                x = int(inst.data[x]) if kind == "successor" else back[x]
            ends.append(row[x])
        assert trail.argmax(-1).tolist() == ends
        share = trail.exp()[torch.arange(len(xs)), ends] / trail.exp().sum(-1)
        assert (share > 0.99).all()


@pytest.mark.parametrize("sink", [False, True])
def test_the_walk_after_the_first_layer_biases_the_last_layer_only(sink, model_for, reading_for):
    """After decoder layer 0 the walk runs from the answer slot's state, and only the last
    layer's bias reads it, weighted per head: the walk's log trail, with the floor's log on the
    sink (never an end of the walk) when there is one."""
    task = get_task("permutation_powering", 8)
    inst = task.sample_instance(np.random.default_rng(2))
    facts = torch.from_numpy(inst.facts)[None]
    model = model_for(
        task, link_walk={"moves": 4}, dec_layers=3, attention_sink={} if sink else None
    )
    walker = model.link_walk
    questions = torch.tensor([task.question(x, 2) for x in range(8)])
    reading = reading_for(model, facts, questions)
    x = torch.randn(8, task.question_len + 1, 32)
    with torch.no_grad():
        walker.weight.copy_(torch.tensor([0.5, 2.0]))
        assert walker.decoder_bias(0, False, reading) is None  # nothing walked yet
        walker.after_layer(0, x, reading)
        trail = walker.walk(
            reading.match[:, :-1], x[:, -1], reading.memory["link_walk"], reading.groups
        )
        walker.after_layer(1, torch.randn_like(x), reading)  # the walk is made once
        biases = [walker.decoder_bias(layer, layer == 2, reading) for layer in range(3)]
    assert biases[0] is None and biases[1] is None
    assert biases[2].shape == (8, 2, 1, 8 + sink)
    assert torch.allclose(biases[2][:, :, 0, :8], 10 * walker.weight[:, None] * trail[:, None])
    if sink:
        expected = 10 * walker.weight * np.log(FLOOR)
        assert torch.allclose(biases[2][:, :, 0, 8], expected.expand(8, 2))


def test_the_walk_needs_a_decoder_layer_before_it():
    """The walk reads the answer slot's state after the first decoder layer: one layer is an
    error."""
    ModelSettings(link_walk={}, dec_layers=2)
    with pytest.raises(pydantic.ValidationError, match="dec_layers >= 2"):
        ModelSettings(link_walk={}, dec_layers=1)
