"""Computed tokens: every encoder layer reads a token out of each fact's state, and relational
attention matches those too."""

import numpy as np
import pytest
import torch

from ida.domains.qa.build import make_model
from ida.domains.qa.config import QAConfig
from ida.domains.qa.models.links import shared_slots
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.sequential_assignments import APPLY, CONST, TABLE, VAR


class Fixed(torch.nn.Module):
    """Stands in for a token read-out: the same logits whatever the states."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(h), -1, -1)


def prepared(model, facts: torch.Tensor):
    """What the encoder hands computed tokens before its first layer."""
    return model.computed_tokens.prepare(facts, shared_slots(facts).float())


def test_a_fact_can_compute_the_answer_it_holds(model_for):
    """With a weight on slot 2 in ``token_held`` and none in the read-out, a constant v := c
    computes c: 'what I computed is in g's slot 2' then points it at the facts holding c there."""
    task = get_task("sequential_assignments", 16)
    rows = task.sample_instance(np.random.default_rng(4)).facts
    model = model_for(task, computed_tokens={"answers": True}, computed_vocab=task.answer_tokens)
    facts = torch.from_numpy(rows)[None]
    part = model.computed_tokens
    with torch.no_grad():
        part.token_relation.zero_()
        part.token_relation[0, 0, 0, 2] = 1.0  # what I computed is in g's slot 2
        part.token_held[0, 2] = 5.0  # I compute the answer I hold in my slot 2
        bias = part.encoder_bias(0, torch.zeros(1, len(rows), 32), prepared(model, facts))
    constants = 0
    for n, row in enumerate(rows):
        if row[0] == CONST:
            assert ((bias[0, 0, n] > 9) == torch.from_numpy(rows[:, 2] == row[2])).all()
            constants += 1
    assert constants >= 2


@pytest.mark.parametrize("from_slot,answers", [(0, False), (1, False), (0, True)])
def test_computed_tokens_find_the_table_row_of_the_operands_values(from_slot, answers, model_for):
    """If every variable's fact computes its value, the weights 'slot 1 of g holds what my first
    operand computed' and 'slot 2 of g what my second computed' point each v := f(v_j, v_k) at
    the table row f(value(v_j), value(v_k)): a lookup keyed by computed values, not tokens.
    From slot 1 on, weights on g's slot 0 (the fact's kind) or on the link through f's kind
    change nothing; with the answers as the only computable tokens, the same lookup reads only
    those."""
    task = get_task("sequential_assignments", 16)
    inst = task.sample_instance(np.random.default_rng(3))
    prog, rows = inst.data, inst.facts
    value = [task.solve(inst, task.value_question(i)) for i in range(task.size)]
    vocab = task.answer_tokens if answers else ()
    settings = {"from_slot": from_slot, "answers": answers}
    model = model_for(task, computed_tokens=settings, computed_vocab=vocab)
    part = model.computed_tokens
    computed = torch.full((len(rows), task.vocab_size), -50.0)
    for n, row in enumerate(rows):
        if row[0] in (APPLY, CONST):
            computed[n, task.val0 + value[row[1] - VAR]] = 50.0
    lf = task.fact_len
    with torch.no_grad():
        part.token_read[0] = Fixed(computed[None, :, list(vocab)] if answers else computed[None])
        part.token_relation.zero_()
        part.token_relation[0, 0, 1 + 2 * lf + 1, 1] = 1.0  # my slot 2 -> its slot 1: g's slot 1
        part.token_relation[0, 0, 1 + 3 * lf + 1, 2] = 1.0  # my slot 3 -> its slot 1: g's slot 2
    facts = torch.from_numpy(rows)[None]
    states = torch.zeros(1, len(rows), 32)
    with torch.no_grad():
        bias = part.encoder_bias(0, states, prepared(model, facts))
        part.token_relation[0, 0, 0, 0] = 1.0  # what I computed is g's kind
        part.token_relation[0, 0, 1, 1] = 1.0  # what the facts of my kind computed: g's slot 1
        kind_bias = part.encoder_bias(0, states, prepared(model, facts))
    assert torch.equal(bias, kind_bias) == (from_slot == 1)
    table = {(r[1] - task.val0, r[2] - task.val0): n for n, r in enumerate(rows) if r[0] == TABLE}
    checked = 0
    for n, row in enumerate(rows):
        if row[0] == APPLY:
            j, k = prog.args[row[1] - VAR]
            assert bias[0, 0, n].argmax() == table[(value[j], value[k])]
            checked += 1
    assert checked == task.size - 2


def test_every_encoder_layer_adds_its_own_computed_tokens_bias(model_for):
    """The encoder adds the computed tokens' bias to its self-attention scores, each layer from
    its own weights: with every weight at zero the facts look where they would without computed
    tokens; zeroing one layer's weights changes where that layer looks, and no layer before."""
    task = get_task("sequential_assignments", 16)
    facts = torch.from_numpy(task.sample_instance(np.random.default_rng(5)).facts)[None]
    plain = model_for(task, relation_prior=0.2, enc_repeat=2)
    model = model_for(task, relation_prior=0.2, enc_repeat=2, computed_tokens={})
    relation = model.computed_tokens.token_relation
    primed = relation.detach().clone()
    with torch.no_grad():
        _, _, without = plain.encode_facts(facts, attention_maps=True)
        _, _, maps = model.encode_facts(facts, attention_maps=True)
        relation.zero_()
        _, _, silent = model.encode_facts(facts, attention_maps=True)
        for layer in range(2):
            relation.copy_(primed)
            relation[layer] = 0.0
            _, _, silenced = model.encode_facts(facts, attention_maps=True)
            for before in range(layer):
                assert torch.equal(silenced[before], maps[before]), (layer, before)
            assert not torch.allclose(silenced[layer], maps[layer], atol=1e-4), layer
    for layer in range(4):  # two layers, two passes
        assert torch.allclose(silent[layer], without[layer], atol=1e-6), layer


def test_answers_in_the_config_limit_what_a_fact_computes_to_answer_tokens():
    """With ``[model.computed_tokens] answers = true`` a fact computes one of the task's answer
    tokens only, so a fact that holds none (v := f(v_j, v_k), variables only) is never matched
    by a computed token, whatever the read-out; without it, the same read-out matches it."""
    task = get_task("sequential_assignments", 16)
    facts = torch.from_numpy(task.sample_instance(np.random.default_rng(3)).facts)[None]
    apply = facts[0, :, 0] == APPLY
    for answers in (False, True):
        model = make_model(
            task,
            QAConfig(
                model={
                    "d_model": 16,
                    "n_heads": 2,
                    "relation_prior": 0.2,
                    "computed_tokens": {"answers": answers},
                }
            ),
        )
        part = model.computed_tokens
        torch.manual_seed(0)
        with torch.no_grad():
            for read in part.token_read:
                torch.nn.init.normal_(read.weight)
                torch.nn.init.normal_(read.bias)
            bias = part.encoder_bias(0, torch.randn(1, len(facts[0]), 16), prepared(model, facts))
        matched = bias[0].abs().amax((0, 1)) > 1e-6  # per fact g: does any fact's bias reach it
        assert matched[~apply].all()
        if answers:
            assert not matched[apply].any()
        else:
            assert matched[apply].all()


def test_padding_slots_hold_nothing_a_computed_token_can_match(model_for):
    """A constant's padding slot holds no token: however a read-out favours PAD, no fact is
    drawn to another by a PAD in its slot 3."""
    task = get_task("sequential_assignments", 16)
    facts = torch.from_numpy(task.sample_instance(np.random.default_rng(3)).facts)[None]
    model = model_for(task, computed_tokens={})
    part = model.computed_tokens
    with torch.no_grad():
        part.token_relation.zero_()
        part.token_relation[0, :, 0, 3] = 1.0  # what I computed is in g's slot 3
        part.token_read[0].bias[0] = 50.0  # every fact computes PAD
        bias = part.encoder_bias(0, torch.zeros(1, len(facts[0]), 32), prepared(model, facts))
    assert bias.abs().max() < 1e-3
