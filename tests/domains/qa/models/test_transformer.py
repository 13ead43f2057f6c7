"""The model: facts encoded once serve every question; padding facts are ignored."""

import numpy as np
import pytest
import torch

from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.models.transformer import (
    Attention,
    Groups,
    ModelShape,
    QAModel,
    held_tokens,
    link_moves,
    one_move,
    shared_slots,
    token_links,
)
from ida.domains.qa.overseers.fan_model import FanModel
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import PAD

# the model's optional parts: every invariance below holds with each of them
VARIANTS = {
    "plain": {},
    "sink": {"sink": True},
    "doubling": {"doubling": True, "enc_layers": 3},
    "walk": {"doubling": True, "walk": True, "sink": True, "enc_layers": 3},
    "link_walk": {"link_walk": 5, "sink": True},
    "reach": {"reach": 3, "sink": True},
    "repeat": {"enc_repeat": 3, "doubling": True},
    "computed": {"computed_tokens": True, "enc_repeat": 2, "sink": True},
    "computed_answers": {
        "computed_tokens": True,
        "computed_from_slot": 1,
        "computed_vocab": (3, 5),
    },
    "answer_match": {"answer_match": True, "sink": True},
}
variants = pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())


def model_for(task, relation_prior=0.0, **kw):
    torch.manual_seed(0)
    return QAModel(
        ModelShape(
            task.vocab_size,
            task.answer_size,
            task.fact_len,
            task.question_len,
            d_model=32,
            n_heads=2,
            **kw,
        ),
        relation_prior=relation_prior,
    ).eval()


@variants
def test_encoding_once_matches_encoding_per_question(variant):
    task = get_task("shortest_path", 8)
    rng = np.random.default_rng(0)
    insts = [task.sample_instance(rng) for _ in range(3)]
    facts = torch.from_numpy(np.stack([i.facts for i in insts]))
    items = [
        (i % 3, task.sample_question(rng, insts[i % 3], i % task.num_levels)) for i in range(12)
    ]
    model = model_for(task, **variant)
    with torch.no_grad():
        batched = model(
            facts, torch.tensor([q for _, q in items]), torch.tensor([s for s, _ in items])
        )
        single = torch.cat(
            [model(facts[s : s + 1], torch.tensor([q]), torch.tensor([0])) for s, q in items]
        )
    assert torch.allclose(batched, single, atol=1e-5)
    assert BatchedAnswerer(model, facts)(items) == batched.argmax(-1).tolist()


@variants
def test_padding_rows_and_fact_order_do_not_matter(variant):
    task = get_task("permutation_powering", 8)
    inst = task.sample_instance(np.random.default_rng(1))
    facts = torch.from_numpy(inst.facts)[None]
    padded = torch.cat([facts, torch.zeros(1, 3, task.fact_len, dtype=torch.long)], dim=1)
    shuffled = facts[:, torch.randperm(facts.shape[1])]
    questions = torch.tensor([task.question(x, 3) for x in range(8)])
    index = torch.zeros(8, dtype=torch.long)
    model = model_for(task, **variant)
    with torch.no_grad():
        base = model(facts, questions, index)
        assert torch.allclose(base, model(padded, questions, index), atol=1e-5)
        assert torch.allclose(base, model(shuffled, questions, index), atol=1e-5)


@variants
def test_lopsided_batches_match_balanced_ones(variant):
    """Questions piled on one instance of many take the copy-per-question path; same answers."""
    task = get_task("permutation_powering", 8)
    rng = np.random.default_rng(2)
    insts = [task.sample_instance(rng) for _ in range(100)]
    facts = torch.from_numpy(np.stack([i.facts for i in insts]))
    questions = torch.tensor([task.sample_question(rng, insts[0], 2) for _ in range(12)])
    model = model_for(task, **variant)
    with torch.no_grad():
        lopsided = model(facts, questions, torch.zeros(12, dtype=torch.long))
        alone = model(facts[:1], questions, torch.zeros(12, dtype=torch.long))
    assert torch.allclose(lopsided, alone, atol=1e-5)


@variants
def test_grouped_batches_match_one_question_at_a_time_with_gradients(variant):
    """Questions in any order, some instances asked nothing: the batched forward pass and its
    gradients equal those of answering each question alone, for A and for H'."""
    task = get_task("shortest_path", 8)
    rng = np.random.default_rng(3)
    insts = [task.sample_instance(rng) for _ in range(6)]
    facts = torch.from_numpy(np.stack([i.facts for i in insts]))
    index = torch.tensor([3, 0, 3, 5, 1, 3, 0, 5, 5, 1])  # instances 2 and 4: no questions
    questions = torch.tensor([task.sample_question(rng, insts[i], 2) for i in index.tolist()])
    torch.manual_seed(1)
    answered = torch.randint(1, task.vocab_size, (len(index), 2, task.question_len + 1))
    answered[..., -1] = torch.randint(0, task.answer_size + 1, (len(index), 2))
    shape = model_for(task, **variant).shape
    for model in (QAModel(shape), FanModel(shape)):
        extra = [answered] if isinstance(model, FanModel) else []

        def run(facts, rows, index, model=model, extra=extra):
            out = model(facts, questions[rows], *[e[rows] for e in extra], index)
            return [out] if isinstance(out, torch.Tensor) else list(out)

        batched = run(facts, slice(None), index)
        each = [
            run(facts[i : i + 1], slice(b, b + 1), torch.tensor([0])) for b, i in enumerate(index)
        ]
        alone = [torch.cat(parts) for parts in zip(*each, strict=True)]
        grads = []
        for outs in (batched, alone):
            loss = sum(out.square().sum() for out in outs)
            grads.append(torch.autograd.grad(loss, list(model.parameters()), allow_unused=True))
        for a, b in zip(batched, alone, strict=True):
            assert torch.allclose(a, b, atol=1e-5)
        for a, b in zip(*grads, strict=True):
            assert (a is None) == (b is None)
            assert a is None or torch.allclose(a, b, atol=1e-4)


def test_relation_prior_removes_the_plateau_before_the_first_lookup():
    """With every relational bias starting above zero, a fresh model learns single lookups
    (s(x) from the fact (x, s(x))) in well under 200 steps; at zero it typically sits at chance
    for hundreds of steps (measured: 3 seeds of 4 still at chance after 300)."""
    task = get_task("permutation_powering", 8)
    rng = np.random.default_rng(0)
    model = model_for(task, relation_prior=0.2)  # no dropout: eval mode trains the same
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    instance = torch.arange(16).repeat_interleave(8)
    accuracy = 0.0
    for _ in range(200):
        instances = [task.sample_instance(rng) for _ in range(16)]
        facts = torch.tensor(np.stack([inst.facts for inst in instances]))
        xs = rng.integers(8, size=(16, 8))
        questions = torch.tensor([task.question(int(x), 1) for row in xs for x in row])
        targets = [inst.data[row] for inst, row in zip(instances, xs, strict=True)]
        answers = torch.tensor(np.concatenate(targets))
        logits = model(facts, questions, instance)
        accuracy = (logits.argmax(-1) == answers).float().mean().item()
        if accuracy > 0.95:
            break
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(logits, answers).backward()
        optimizer.step()
    assert accuracy > 0.95


def test_model_options_are_set_from_the_config():
    from ida.domains.qa.build import make_model
    from ida.domains.qa.config import QAConfig

    task = get_task("permutation_powering", 8)
    for prior in (0.0, 0.2):
        model = make_model(task, QAConfig(relation_prior=prior, d_model=16, n_heads=2))
        for bias in (model.fact_relation, model.question_relation):
            assert torch.equal(bias, torch.full_like(bias, prior))
    for sink in (False, True):
        model = make_model(task, QAConfig(attention_sink=sink, d_model=16, n_heads=2))
        assert model.shape.sink is sink and hasattr(model, "sink") is sink
    for doubling in (False, True):
        model = make_model(task, QAConfig(pointer_doubling=doubling, d_model=16, n_heads=2))
        assert model.shape.doubling is doubling
        assert hasattr(model, "doubling_weight") is doubling
        model = make_model(task, QAConfig(pointer_walk=doubling, d_model=16, n_heads=2))
        assert model.shape.walk is doubling and hasattr(model, "walk_gate") is doubling
    for moves in (0, 7):
        model = make_model(task, QAConfig(link_walk=moves, d_model=16, n_heads=2))
        assert model.shape.link_walk == moves and hasattr(model, "link_moves") is bool(moves)
        assert hasattr(model, "walk_weight") is bool(moves)
    for repeat in (1, 3):
        model = make_model(task, QAConfig(enc_repeat=repeat, d_model=16, n_heads=2))
        assert model.shape.enc_repeat == repeat and len(model.encoder) == 2
    for computed in (False, True):
        model = make_model(task, QAConfig(computed_tokens=computed, d_model=16, n_heads=2))
        assert model.shape.computed_tokens is computed
        assert hasattr(model, "token_read") is computed
    cfg = QAConfig(computed_tokens=True, computed_from_slot=1, d_model=16, n_heads=2)
    assert make_model(task, cfg).shape.computed_from_slot == 1
    cfg = QAConfig(computed_tokens=True, computed_answers=True, d_model=16, n_heads=2)
    assigned = get_task("sequential_assignments", 16)
    model = make_model(assigned, cfg)
    assert model.shape.computed_vocab == assigned.answer_tokens
    assert model.token_read[0].out_features == assigned.answer_size
    for reach in (0, 5):
        model = make_model(task, QAConfig(pointer_reach=reach, d_model=16, n_heads=2))
        assert model.shape.reach == reach and hasattr(model, "reach_in") is bool(reach)
    for match in (False, True):
        model = make_model(task, QAConfig(answer_match=match, relation_prior=0.2, d_model=16))
        assert model.shape.answer_match is match
        if match:
            bias = model.answer_relation
            assert torch.equal(bias, torch.full_like(bias, 0.2))
        else:
            assert not hasattr(model, "answer_relation")


def test_the_sink_is_a_null_entry_after_the_facts():
    """With ``sink`` every instance's memory ends in one learned entry that no relational bias
    touches: it stays open when every fact is padding, and attention can rest on it (nothing
    matched) instead of being forced onto some fact."""
    task = get_task("wildcard_search", 8)
    inst = task.sample_instance(np.random.default_rng(4))
    facts = torch.from_numpy(inst.facts)[None]
    empty = torch.zeros_like(facts)
    model = model_for(task, sink=True)
    memory = model.encode(torch.cat([facts, empty]))
    assert memory.kv[0][0].shape[2] == facts.shape[1] + 1
    assert torch.equal(memory.mask[1, 0, 0], torch.tensor([float("-inf")] * 8 + [0.0]))
    question = torch.tensor([task.sample_question(np.random.default_rng(5), inst, 1)])
    index = torch.tensor([0])
    with torch.no_grad():
        assert torch.isfinite(model(empty, question, index)).all()
        before = model(facts, question, index), model(facts.flip(-1), question, index)
        d = model.shape.d_model  # make the sink's key dominate every query's scores
        model.sink.fill_(100.0)
        for block in model.decoder:
            block.cross.key_value.weight[:d].copy_(torch.eye(d))
            block.cross.key_value.bias.zero_()
            block.cross.query.weight.zero_()
            block.cross.query.bias.fill_(1.0)
        after = model(facts, question, index), model(facts.flip(-1), question, index)
    assert not torch.allclose(*before, atol=1e-3)  # the facts matter...
    assert torch.allclose(*after, atol=1e-5)  # ...until all attention rests on the sink


def test_the_answer_slot_can_land_on_the_facts_that_match_the_whole_question(monkeypatch):
    """With ``answer_match`` the answer slot's attention can rest on exactly the strings that
    match every fixed bit of a wildcard pattern, where each position alone matches about half of
    them (the biases alone here: no query weights)."""
    from ida.domains.qa.tasks.wildcard_search import STAR

    task = get_task("wildcard_search", 8)
    rng = np.random.default_rng(6)
    inst = task.sample_instance(rng)
    model = model_for(task, answer_match=True, dec_layers=1)
    with torch.no_grad():
        model.decoder[0].cross.query.weight.zero_()
        model.decoder[0].cross.query.bias.zero_()
        model.question_relation.zero_()
        model.answer_relation.zero_()
        for p in range(task.width):
            model.answer_relation[0, :, p, p] = 3.0
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


def pointer_model(task, inst, **kw):
    """A model whose encoder head 0 follows the permutation's pointer 1, 2, 4, ... hops per layer
    (the biases alone: no query weights), and each element's fact row."""
    model = model_for(task, doubling=True, enc_layers=3, **kw)
    with torch.no_grad():
        for block in model.encoder:
            block.attn.query.weight.zero_()
            block.attn.query.bias.zero_()
        model.fact_relation.zero_()
        model.fact_relation[0, :, 1, 0] = 2.0  # layer 0: my y is the other fact's x
        model.doubling_weight.fill_(1.0)
    return model, {int(x) - 1: f for f, x in enumerate(inst.facts[:, 0])}


def hops(inst, x, k):
    for _ in range(k):
        x = int(inst.data[x])
    return x


def test_doubling_follows_the_previous_layers_pointer_twice():
    """A layer-0 head that attends from the fact (x, s(x)) to the fact (s(x), s^2(x)) makes the
    same head of layer 1 attend two hops on (to the fact for s^2(x)), and layer 2 four hops: the
    pointer doubles with each layer, with no query or key weights at all."""
    task = get_task("permutation_powering", 16)
    inst = task.sample_instance(np.random.default_rng(6))
    facts = torch.from_numpy(inst.facts)[None]
    model, row = pointer_model(task, inst)
    with torch.no_grad():
        _, _, maps = model.encode_facts(facts)
    for layer, k in enumerate((1, 2, 4)):
        target = [row[hops(inst, x, k)] for x in inst.facts[:, 0] - 1]
        weights = maps[layer][0, 0, torch.arange(16), torch.tensor(target)]
        assert (weights > 0.9).all(), (layer, weights.min())
    _, _, plain_maps = model_for(task, enc_layers=3).encode_facts(facts, attention_maps=True)
    assert len(plain_maps) == 3 and plain_maps[0].shape == (1, 2, 16, 16)


def test_a_repeated_encoder_is_its_layers_copied():
    """enc_layers = 2 run 3 times over computes what 6 layers do when layers 2-5 are copies of
    layers 0-1 (their relational biases too), with no more parameters than 2 layers."""
    task = get_task("sequential_assignments", 16)
    facts = torch.from_numpy(task.sample_instance(np.random.default_rng(1)).facts)[None]
    tied = model_for(task, relation_prior=0.2, enc_repeat=3)
    untied = model_for(task, relation_prior=0.2, enc_layers=6)
    state = dict(tied.state_dict())
    for layer in range(6):
        for key, value in tied.encoder[layer % 2].state_dict().items():
            state[f"encoder.{layer}.{key}"] = value
    state["fact_relation"] = tied.fact_relation.repeat(3, 1, 1, 1)
    untied.load_state_dict(state)
    assert sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in untied.parameters())
    with torch.no_grad():
        x_tied, _, maps = tied.encode_facts(facts, attention_maps=True)
        x_untied, _, _ = untied.encode_facts(facts)
    assert len(maps) == 6 and torch.allclose(x_tied, x_untied, atol=1e-5)


class Fixed(torch.nn.Module):
    """Stands in for a token read-out: the same logits whatever the states."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(h), -1, -1)


def test_padding_slots_hold_no_token_to_match():
    facts = torch.tensor([[[3, 7, 9, PAD], [PAD, PAD, PAD, PAD]]])
    held = held_tokens(facts, 12)
    assert held.shape == (1, 2, 4, 12)
    assert held[0, 0].argmax(-1).tolist()[:3] == [3, 7, 9]
    assert held[0, 0, 3].sum() == 0 and held[0, 1].sum() == 0
    answers = held_tokens(facts, 12, tokens=(9, 3, 5))  # slot a holds answer k: token 9, 3, 5
    assert answers.shape == (1, 2, 4, 3)
    assert answers[0, 0].tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_a_fact_can_compute_the_answer_it_holds():
    """With a weight on slot 2 in ``token_held`` and none in the read-out, a constant v := c
    computes c: 'what I computed is in g's slot 2' then points it at the facts holding c there."""
    from ida.domains.qa.tasks.sequential_assignments import CONST

    task = get_task("sequential_assignments", 16)
    rows = task.sample_instance(np.random.default_rng(4)).facts
    model = model_for(task, computed_tokens=True, computed_vocab=task.answer_tokens)
    facts = torch.from_numpy(rows)[None]
    own = held_tokens(facts, task.vocab_size, task.answer_tokens)
    with torch.no_grad():
        model.token_relation.zero_()
        model.token_relation[0, 0, 0, 2] = 1.0  # what I computed is in g's slot 2
        model.token_held[0, 2] = 5.0  # I compute the answer I hold in my slot 2
        bias = model.computed_bias(
            0, torch.zeros(1, len(rows), 32), own, token_links(shared_slots(facts).float())
        )
    for n, row in enumerate(rows):
        if row[0] == CONST:
            assert ((bias[0, 0, n] > 9) == torch.from_numpy(rows[:, 2] == row[2])).all()


@pytest.mark.parametrize("from_slot,answers", [(0, False), (1, False), (0, True)])
def test_computed_tokens_find_the_table_row_of_the_operands_values(from_slot, answers):
    """If every variable's fact computes its value, the weights 'slot 1 of g holds what my first
    operand computed' and 'slot 2 of g what my second computed' point each v := f(v_j, v_k) at
    the table row f(value(v_j), value(v_k)): a lookup keyed by computed values, not tokens.
    From slot 1 on, weights on g's slot 0 (the fact's kind) or on the link through f's kind
    change nothing; with the answers as the only computable tokens, the same lookup reads only
    those."""
    from ida.domains.qa.tasks.sequential_assignments import APPLY, CONST, TABLE, VAR

    task = get_task("sequential_assignments", 16)
    inst = task.sample_instance(np.random.default_rng(3))
    prog, rows = inst.data, inst.facts
    value = [task.solve(inst, task.value_question(i)) for i in range(task.size)]
    vocab = task.answer_tokens if answers else ()
    model = model_for(
        task, computed_tokens=True, computed_from_slot=from_slot, computed_vocab=vocab
    )
    computed = torch.full((len(rows), task.vocab_size), -50.0)
    for n, row in enumerate(rows):
        if row[0] in (APPLY, CONST):
            computed[n, task.val0 + value[row[1] - VAR]] = 50.0
    lf = task.fact_len
    with torch.no_grad():
        model.token_read[0] = Fixed(computed[None, :, list(vocab)] if answers else computed[None])
        model.token_relation.zero_()
        model.token_relation[0, 0, 1 + 2 * lf + 1, 1] = 1.0  # my slot 2 -> its slot 1: g's slot 1
        model.token_relation[0, 0, 1 + 3 * lf + 1, 2] = 1.0  # my slot 3 -> its slot 1: g's slot 2
    facts = torch.from_numpy(rows)[None]
    links = token_links(shared_slots(facts).float())
    own = held_tokens(facts, task.vocab_size, vocab)
    states = torch.zeros(1, len(rows), 32)
    with torch.no_grad():
        bias = model.computed_bias(0, states, own, links)
        model.token_relation[0, 0, 0, 0] = 1.0  # what I computed is g's kind
        model.token_relation[0, 0, 1, 1] = 1.0  # what the facts of my kind computed: g's slot 1
        kind_bias = model.computed_bias(0, states, own, links)
    assert torch.equal(bias, kind_bias) == (from_slot == 1)
    table = {(r[1] - task.val0, r[2] - task.val0): n for n, r in enumerate(rows) if r[0] == TABLE}
    checked = 0
    for n, row in enumerate(rows):
        if row[0] == APPLY:
            j, k = prog.args[row[1] - VAR]
            assert bias[0, 0, n].argmax() == table[(value[j], value[k])]
            checked += 1
    assert checked == task.size - 2


@pytest.mark.parametrize("gates", [(0, 0, 0), (1, 0, 0), (0, 1, 1), (1, 0, 1)])
def test_the_walk_moves_as_many_hops_as_its_gates_spell(gates):
    """The walk starts where the first decoder layer looked (here: the fact for x) and, for each
    open gate, moves along that encoder layer's pointer: gates (1, 0, 1) end 1 + 4 hops on."""
    task = get_task("permutation_powering", 16)
    inst = task.sample_instance(np.random.default_rng(7))
    facts = torch.from_numpy(inst.facts)[None]
    model, row = pointer_model(task, inst, walk=True, sink=True)
    xs = torch.arange(16)
    with torch.no_grad():
        model.walk_heads.copy_(torch.tensor([[20.0, 0.0]] * 3))  # head 0 of every layer
        model.walk_start.copy_(torch.tensor([20.0] + [0.0] * 5))  # the x token, head 0
        model.walk_gate.weight.zero_()
        model.walk_gate.bias.copy_(torch.tensor(gates) * 40.0 - 20.0)
        memory = model.select(model.encode(facts), torch.zeros(16, dtype=torch.long))
        cross = torch.zeros(16, 3, 2, 17)  # [B, S, heads, F + sink]: position 0 reads fact x
        cross[xs, 0, 0, torch.tensor([row[int(x)] for x in xs])] = 1.0
        groups = Groups(memory.index, 1)
        trail = model.pointer_walk(cross, torch.zeros(16, 32), memory.hops, groups)
    k = sum(g << layer for layer, g in enumerate(gates))
    assert trail.shape == (16, 17)
    assert trail.argmax(-1).tolist() == [row[hops(inst, int(x), k)] for x in xs]
    assert (trail.exp()[:, :16].max(-1).values > 0.9).all()


@pytest.mark.parametrize("kind", ["successor", "predecessor"])
def test_the_link_walk_ends_as_many_moves_on_as_it_asks(kind):
    """Started on the fact for x (question position 0, slot 0) and moving along the link "my y is
    your x", t moves end on the fact for s^t(x); along "my x is your y", on the fact for
    s^-t(x). A fact's own slot matching itself is no move, but its y matching its own x is: the
    walk stays on a fixed point s(x) = x."""
    task = get_task("permutation_powering", 16)
    inst = task.sample_instance(np.random.default_rng(9))
    assert sum(int(inst.data[x]) == x for x in range(task.size)) == 3  # three fixed points
    facts = torch.from_numpy(inst.facts)[None]
    row = {int(x) - 1: f for f, x in enumerate(inst.facts[:, 0])}
    back = {int(y): x for x, y in enumerate(inst.data)}
    model = model_for(task, link_walk=task.size, sink=True)
    with torch.no_grad():
        model.link_start.copy_(torch.tensor([5.0, 0, 0, 0]))  # position 0, slot 0: the fact for x
        model.link_kinds.zero_()
        model.link_kinds[1 * 2 + 0 if kind == "successor" else 0 * 2 + 1] = 5.0
        memory = model.encode(facts)
    for t in range(task.size + 1):
        xs = list(range(task.size))
        questions = torch.tensor([task.question(x, 1) for x in xs])
        match = (questions[:, :, None, None] == facts).float()
        state = torch.zeros(len(xs), 32)
        with torch.no_grad():
            model.link_moves.weight.zero_()
            model.link_moves.bias.copy_(torch.eye(task.size + 1)[t] * 50.0)
            groups = Groups(torch.zeros(len(xs), dtype=torch.long), 1)
            trail = model.link_walk(match, state, memory.hops, groups)
        assert trail.shape == (len(xs), task.size + 1)  # the sink: never an end
        ends = []
        for x in xs:
            for _ in range(t):
                x = int(inst.data[x]) if kind == "successor" else back[x]
            ends.append(row[x])
        assert trail.argmax(-1).tolist() == ends
        share = trail.exp()[torch.arange(len(xs)), ends] / trail.exp().sum(-1)
        assert (share > 0.99).all()


def test_a_move_never_stays_by_a_slot_matching_itself():
    """For the link walk a fact's slot does not link to the same slot of itself: in a permutation
    the kinds x -> x and y -> y lead nowhere (each token is in one fact's slot a only), while
    y -> x leads from a fixed point (x, x) to itself and from every other fact to the next."""
    task = get_task("permutation_powering", 16)
    inst = task.sample_instance(np.random.default_rng(9))
    facts = torch.from_numpy(inst.facts)[None]
    move, kept = one_move(facts, moves=True)[0], one_move(facts)[0]  # [kinds, F, G]
    assert move[0].sum() == move[3].sum() == 0  # x -> x, y -> y
    assert torch.equal(kept[0], torch.eye(16)) and torch.equal(kept[3], torch.eye(16))
    row = {int(x) - 1: f for f, x in enumerate(inst.facts[:, 0])}
    ahead = torch.zeros(16, 16)
    for x, f in row.items():
        ahead[f, row[int(inst.data[x])]] = 1.0
    assert torch.equal(move[2], ahead) and torch.equal(move[1], ahead.T)  # y -> x, x -> y
    fixed = [row[x] for x in range(16) if int(inst.data[x]) == x]
    assert len(fixed) == 3 and all(move[2][f, f] == 1 for f in fixed)


def test_links_walk_the_graph_the_facts_describe():
    """Moving along the link 'my slot 1 is your slot 0' from the edge (u, v) goes to the edges
    leaving v: t >= 1 moves land on exactly the edges whose tail a walk of t - 1 edges reaches
    from v, and each move spreads evenly. No move leads to or from a padding fact."""
    task = get_task("shortest_path", 8)
    inst = task.sample_instance(np.random.default_rng(8))
    facts = torch.from_numpy(inst.facts)[None]
    padded = torch.cat([facts, torch.zeros(1, 2, 2, dtype=torch.long)], dim=1)
    links = link_moves(padded, 4)[0, 1 * 2 + 0]  # kind (slot 1 -> slot 0), [T, F, F]
    edges = inst.facts - 3
    adjacency = np.zeros((8, 8))
    adjacency[edges[:, 0], edges[:, 1]] = 1
    assert torch.equal(links[0], torch.eye(18))  # no move: where it started
    for t in range(1, 4):
        walks = np.linalg.matrix_power(adjacency, t - 1)  # walks[v, x] > 0: x in t - 1 edges
        for f, (_, v) in enumerate(edges):
            expected = walks[v, edges[:, 0]] > 0
            assert torch.equal(links[t, f, :16] > 0, torch.from_numpy(expected)), (t, f)
            assert torch.isclose(links[t, f].sum(), torch.tensor(1.0))
        assert (links[t, 16:] == 0).all() and (links[t, :, 16:] == 0).all()


def test_the_reach_profile_reads_shortest_distances_and_first_steps():
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
    model = model_for(task, reach=steps, sink=True)
    sets, kinds = model.reach_weight.shape[1:3]
    start, end, kind = 1 * 2 + 0, 2 * 2 + 1, 1 * 2 + 0  # (position, slot) sets, link (a, b)
    with torch.no_grad():
        weight = model.reach_in.weight.view(-1, sets, sets, kinds, steps)
        weight.zero_()
        weight[torch.arange(steps), start, end, kind, torch.arange(steps)] = 1.0
        model.reach_in.bias.zero_()
        model.reach_weight.zero_()
        model.reach_weight[:, end, kind] = 4.0 ** -torch.arange(steps)
        memory = model.select(model.encode(facts), torch.zeros(len(pairs), dtype=torch.long))
        tokens = torch.nn.functional.pad(questions, (0, 1))
        same = (tokens[:, :, None, None] == facts[:, None]) & (tokens != 0)[:, :, None, None]
        profile, bias = model.reach_profile(same.float(), tokens, memory.reach, memory.index)
    first = (profile[:, :steps] > -0.99).float().argmax(-1)
    assert first.tolist() == [dist[a, b] - 1 for a, b in pairs]
    assert bias.shape == (len(pairs), 2, 33)
    for (a, b), row in zip(pairs, bias[:, 0], strict=True):
        leaving = [f for f, (u, _) in enumerate(inst.facts - 3) if u == a]
        best = max(leaving, key=lambda f: row[f])
        assert dist[inst.facts[best, 1] - 3, b] == dist[a, b] - 1
