"""The model: facts encoded once serve every question, in any batch layout; padding facts and
fact order are ignored; the relation prior and the encoder's recurrence do what they say; and
the settings in a config's ``[model]`` table reach the model."""

import numpy as np
import pytest
import torch

from ida.domains.qa.build import make_model
from ida.domains.qa.config import QAConfig
from ida.domains.qa.models.transformer import QAModel
from ida.domains.qa.overseers.fan_model import FanModel
from ida.domains.qa.tasks import get_task


def test_encoding_once_matches_encoding_per_question(variant, model_for, live, asked):
    """Questions about three instances, answered in one batch over the three encoded once,
    score as they do one question at a time with only its instance encoded."""
    task, facts, items = asked
    model = live(model_for(task, **variant))
    with torch.no_grad():
        batched = model(
            facts, torch.tensor([q for _, q in items]), torch.tensor([s for s, _ in items])
        )
        single = torch.cat(
            [model(facts[s : s + 1], torch.tensor([q]), torch.tensor([0])) for s, q in items]
        )
    assert torch.allclose(batched, single, atol=1e-5)


def test_padding_rows_and_fact_order_do_not_matter(variant, model_for, live):
    """Padding facts appended, or the facts shuffled: the same logits (the facts are a set)."""
    task = get_task("permutation_powering", 8)
    inst = task.sample_instance(np.random.default_rng(1))
    facts = torch.from_numpy(inst.facts)[None]
    padded = torch.cat([facts, torch.zeros(1, 3, task.fact_len, dtype=torch.long)], dim=1)
    shuffled = facts[:, torch.randperm(facts.shape[1], generator=torch.Generator().manual_seed(0))]
    questions = torch.tensor([task.question(x, 3) for x in range(8)])
    index = torch.zeros(8, dtype=torch.long)
    model = live(model_for(task, **variant))
    with torch.no_grad():
        base = model(facts, questions, index)
        assert torch.allclose(base, model(padded, questions, index), atol=1e-5)
        assert torch.allclose(base, model(shuffled, questions, index), atol=1e-5)


def test_lopsided_batches_match_balanced_ones(variant, model_for, live):
    """Questions piled on one instance of many take the copy-per-question path; same answers."""
    task = get_task("permutation_powering", 8)
    rng = np.random.default_rng(2)
    insts = [task.sample_instance(rng) for _ in range(100)]
    facts = torch.from_numpy(np.stack([i.facts for i in insts]))
    questions = torch.tensor([task.sample_question(rng, insts[0], 2) for _ in range(12)])
    model = live(model_for(task, **variant))
    with torch.no_grad():
        lopsided = model(facts, questions, torch.zeros(12, dtype=torch.long))
        alone = model(facts[:1], questions, torch.zeros(12, dtype=torch.long))
    assert torch.allclose(lopsided, alone, atol=1e-5)


def test_grouped_batches_match_one_question_at_a_time_with_gradients(variant, model_for, live):
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
    for model in (live(QAModel(shape)), live(FanModel(shape))):
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
        assert any(a is not None for a in grads[0])
        for a, b in zip(*grads, strict=True):
            assert (a is None) == (b is None)
            assert a is None or torch.allclose(a, b, atol=1e-4)


def test_relation_prior_removes_the_plateau_before_the_first_lookup(model_for):
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


def test_a_repeated_encoder_is_its_layers_copied(model_for):
    """enc_layers = 2 run 3 times over computes what 6 layers do when layers 2-5 are copies of
    layers 0-1 (their relational biases too), with no more parameters than 2 layers; its
    attention maps are one per layer run, [I, heads, F, F]."""
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
    assert len(maps) == 6 and maps[0].shape == (1, 2, len(facts[0]), len(facts[0]))
    assert torch.allclose(x_tied, x_untied, atol=1e-5)


TINY = {"d_model": 16, "n_heads": 2, "relation_prior": 0.2}


def config_logits(task, **model) -> torch.Tensor:
    """The logits of ``make_model(task, QAConfig(model=TINY + model))``, seeded, on a fixed
    batch of questions about two instances."""
    rng = np.random.default_rng(0)
    insts = [task.sample_instance(rng) for _ in range(2)]
    facts = torch.from_numpy(np.stack([inst.facts for inst in insts]))
    index = torch.tensor([0, 1] * 4)
    questions = torch.tensor([task.sample_question(rng, insts[i], 1) for i in index.tolist()])
    torch.manual_seed(0)
    model = make_model(task, QAConfig(model={**TINY, **model})).eval()
    with torch.no_grad():
        return model(facts, questions, index)


TABLES = [
    ("attention_sink", {}),
    ("computed_tokens", {}),
    ("computed_tokens", {"from_slot": 1}),
    ("answer_match", {}),
    ("link_walk", {"moves": 3}),
    ("reach", {"moves": 2}),
]


@pytest.mark.parametrize(
    "name,table", TABLES, ids=[name + "".join(f"-{k}" for k in t) for name, t in TABLES]
)
def test_a_model_table_in_the_config_changes_what_the_model_computes(name, table):
    """The same seed's logits differ with ``[model.NAME]`` and without it: the table reaches
    the model and its mechanism takes part from the start. ``true`` turns it on as an empty
    table does, ``false`` leaves it off."""
    task = get_task("permutation_powering", 8)
    without = config_logits(task)
    with_table = config_logits(task, **{name: table})
    assert not torch.allclose(with_table, without, atol=1e-4)
    assert torch.equal(config_logits(task, **{name: False}), without)
    if not table:
        assert torch.equal(config_logits(task, **{name: True}), with_table)
    else:  # its settings reach the mechanism: the defaults compute something else
        assert not torch.allclose(config_logits(task, **{name: {}}), with_table, atol=1e-4)


@pytest.mark.parametrize("prior", [0.0, 0.2])
def test_relation_prior_in_the_config_sets_every_relational_bias_at_the_start(prior):
    """``relation_prior`` starts every bias on a token match there (facts with facts, question
    with facts, computed tokens, the answer slot's match) at the prior, and so changes the
    logits of a fresh model."""
    task = get_task("permutation_powering", 8)
    cfg = QAConfig(
        model={**TINY, "relation_prior": prior, "computed_tokens": {}, "answer_match": {}}
    )
    model = make_model(task, cfg)
    biases = [model.fact_relation, model.question_relation, model.answer_match.relation]
    biases += [model.computed_tokens.token_relation, model.computed_tokens.token_held]
    for bias in biases:
        assert torch.equal(bias, torch.full_like(bias, prior))
    others = config_logits(task, relation_prior=0.1)
    assert not torch.allclose(config_logits(task, relation_prior=prior), others, atol=1e-4)


def test_enc_repeat_in_the_config_reruns_the_same_layers():
    """``enc_repeat = 3`` gives the same parameters as 1 (same seed), and other logits."""
    task = get_task("permutation_powering", 8)
    states = []
    for repeat in (1, 3):
        torch.manual_seed(0)
        states.append(make_model(task, QAConfig(model={**TINY, "enc_repeat": repeat})).state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])
    assert not torch.allclose(config_logits(task), config_logits(task, enc_repeat=3), atol=1e-4)


def test_with_settings_turns_off_a_mechanism_and_keeps_the_rest(model_for):
    """The networks beside A are built from A's shape with settings changed: a mechanism set to
    None is off, and the same seed then computes what a model built without it does."""
    task = get_task("permutation_powering", 8)
    rng = np.random.default_rng(0)
    facts = torch.from_numpy(task.sample_instance(rng).facts)[None]
    questions = torch.tensor([task.question(x, 2) for x in range(8)])
    index = torch.zeros(8, dtype=torch.long)
    walking = model_for(task, link_walk={"moves": 3}, attention_sink={}, relation_prior=0.2)
    plain = model_for(task, attention_sink={}, relation_prior=0.2)
    torch.manual_seed(0)
    off = QAModel(walking.shape.with_settings(link_walk=None)).eval()
    assert off.link_walk is None and off.attention_sink is not None
    with torch.no_grad():
        assert torch.equal(off(facts, questions, index), plain(facts, questions, index))
        assert not torch.allclose(walking(facts, questions, index), plain(facts, questions, index))


def test_with_settings_takes_a_table_or_a_switch_as_the_config_does(model_for):
    """``with_settings(NAME=...)`` reads a table, ``true`` or ``false`` as ``[model]`` does."""
    shape = model_for(get_task("permutation_powering", 8)).shape
    assert QAModel(shape.with_settings(attention_sink=False)).attention_sink is None
    assert QAModel(shape.with_settings(link_walk={"moves": 3})).link_walk.moves.out_features == 4
