"""The model A: the instance's entities and edges come from its sentences, answers are entity
names copied from the facts, teacher forcing agrees with decoding, questions may point at any
instance, an instance's facts are encoded once, and a short fit learns one-hop questions."""

import numpy as np
import torch

from ida.domains.text.data import Answerer, Rows, heldout_set, question_rows
from ida.domains.text.distill import answer_loss
from ida.domains.text.evaluate import accuracy_by_level
from ida.domains.text.job import make_model
from ida.domains.text.kb import TRAIN, named
from ida.domains.text.model import ModelSettings
from ida.domains.text.words import ANSWER_LEN, END, PAD, vocab

SMALL = ModelSettings(d_model=16, n_heads=2, enc_layers=1, dec_layers=1)


def data(per_level=4, people=6, seed=0, levels=4) -> Rows:
    return heldout_set(people, levels, per_level, TRAIN, np.random.default_rng(seed), 4)


def test_the_memory_holds_each_instance_entities_and_two_edges_per_fact():
    model = make_model(SMALL).eval()
    rows = data()
    memory = model.encode(torch.from_numpy(rows.facts))
    v = vocab()
    for i, facts in enumerate(rows.facts):
        sentences = tuple(v.decode(row) for row in facts)
        entities = zip(memory.words[i], memory.names[i], strict=True)
        said = {v.decode(w).lower() for w, k in entities if k >= 0}
        assert said == named(sentences)
        assert memory.valid[i].sum() == 2 * len(facts)
    assert memory.keys.shape[:2] == memory.source.shape == memory.direction.shape
    assert torch.allclose(memory.direction.exp().view(*memory.valid.shape[:1], -1, 2).sum(-1),
                          torch.tensor(1.0))  # fmt: skip


def test_answers_are_entity_names_and_teacher_forcing_agrees_with_decoding():
    torch.manual_seed(0)
    model = make_model(SMALL).eval()
    facts, questions, targets, index = data().tensors("cpu")
    memory = model.encode(facts)
    said = model.generate(memory, index, questions).clone()  # out of inference mode
    assert said.shape == (len(questions), ANSWER_LEN)
    for i, row in zip(index.tolist(), said.tolist(), strict=True):
        n = row.index(END) + 1
        assert all(t == PAD for t in row[n:])
        assert row in memory.words[i].tolist()
    logp = model(memory, index, questions, said)
    assert logp.shape == (len(questions), ANSWER_LEN, len(vocab()))
    assert torch.allclose(logp.exp().sum(-1), torch.tensor(1.0), atol=1e-4)
    chosen = logp.gather(2, said[..., None]).squeeze(-1)
    whole = torch.where(said == PAD, 0.0, chosen).sum(1)
    best = model.answer(memory, index, questions).max(1).values
    assert torch.allclose(whole, best, atol=1e-4)  # the words' product is the entity's share
    loss, known = model.loss(memory, index, questions, targets)
    assert known.all() and (loss > 0).all()


def test_questions_about_one_instance_read_its_facts_whatever_the_layout():
    torch.manual_seed(1)
    model = make_model(SMALL).eval()
    facts, questions, _, index = data().tensors("cpu")
    memory = model.encode(facts)
    spread = model.generate(memory, index, questions)
    one = (index == 2).nonzero().ravel()
    lopsided = torch.cat([one.repeat(20), torch.tensor([0])])  # most questions on instance 2
    alone = model.generate(memory, index[lopsided], questions[lopsided])
    assert torch.equal(alone, spread[lopsided])
    assert torch.allclose(
        model.answer(memory, index[lopsided], questions[lopsided]),
        model.answer(memory, index, questions)[lopsided],
        atol=1e-5,
    )


def test_the_answerer_encodes_once_and_answers_in_words():
    torch.manual_seed(2)
    model = make_model(SMALL).eval()
    rows = data()
    calls = []
    encode = model.encode
    model.encode = lambda facts: calls.append(1) or encode(facts)
    answerer = Answerer(model, torch.from_numpy(rows.facts))
    question = "Who manages Ada Brook?"  # a name the facts need not hold: still a name of them
    said = answerer([(0, question), (1, question), (0, question)])
    assert len(said) == 3 and said[0] == said[2] and all(isinstance(s, str) for s in said)
    assert len(calls) == 1
    assert answerer([]) == []


def test_a_short_fit_learns_one_hop_questions():
    """A few dozen steps on one-hop questions: from chance (about 1 in 14 entities) to most."""
    torch.manual_seed(0)
    model = make_model(ModelSettings(d_model=32, n_heads=2, dec_layers=1))
    train = data(per_level=256, people=4, seed=1, levels=1)
    test = data(per_level=64, people=4, seed=2, levels=1)
    before = accuracy_by_level(model, test, "cpu")[0]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(80):
        model.train()
        batch = train.rows(rng.choice(len(train), 8, replace=False))
        loss = answer_loss(model, batch, "cpu")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = accuracy_by_level(model, test, "cpu")[0]
    assert before < 0.3 and after > 0.6, (before, after)


def test_the_hop_count_is_a_distribution_read_from_the_hops():
    """Each hop after the first may read no word; the counts' probabilities sum to one, for
    any number of hops the model allows."""
    torch.manual_seed(3)
    _, questions, _, _ = data().tensors("cpu")
    for hops in (1, 2, 4):
        model = make_model(ModelSettings(d_model=16, n_heads=2, hops=hops)).eval()
        _, queries, counts = model.queries(questions)
        assert queries.shape == (len(questions), hops, 16)
        assert counts.shape == (len(questions), hops)
        assert torch.allclose(counts.exp().sum(-1), torch.tensor(1.0), atol=1e-5)


def test_fillers_go_between_words_in_training_only_and_never_inside_a_name():
    torch.manual_seed(0)
    model = make_model(ModelSettings(d_model=16, n_heads=2, filler_insertion=0.5))
    v = vocab()
    fillers = set(model.filler_ids.tolist())
    assert {v.words[t] for t in fillers} == {"a", "city", "does", "in", "is", "of", "one",
                                              "person", "that", "the", "to", "what", "where",
                                              "which", "who", "whom"}  # fmt: skip
    texts = ["Who is the best friend of Ada Brook?", "Where is Lumen Ltd based?"]
    questions = torch.from_numpy(question_rows(texts))
    added = 0
    for _ in range(20):
        for text, row in zip(texts, model.insert_fillers(questions).tolist(), strict=True):
            first = next(i for i, t in enumerate(row) if t != PAD)
            words = row[first:]
            assert PAD not in words  # still padded on the left only
            own, matched, extra = v.encode(text), 0, []
            for t in words:  # the question's own words in order, fillers between them
                if matched < len(own) and t == own[matched]:
                    matched += 1
                else:
                    extra.append(t)
            assert matched == len(own) and all(t in fillers for t in extra)
            name = "Ada Brook" if "Ada" in text else "Lumen Ltd"
            assert name in v.decode(words)  # a name's words stay together
            added += len(extra)
    assert added > 20
    model.eval()
    assert torch.equal(model.queries(questions)[1], model.queries(questions)[1])  # eval: none
    off = make_model(ModelSettings(d_model=16, n_heads=2, filler_insertion=0))
    assert torch.equal(off.insert_fillers(questions), questions)  # off: as is


def test_the_direction_reads_the_words_before_between_and_after_the_two_names():
    """Each fact's subject is also read from its three stretches of plain words (before the
    first name, between the two, after the second), each averaged."""
    torch.manual_seed(0)
    model = make_model(SMALL).eval()
    v = vocab()
    sentences = [
        "The manager of Jonas Brook is Xena Bishop.",
        "Xena Bishop is Jonas Brook's manager.",
    ]
    rows = torch.from_numpy(np.stack([v.row(s, 24) for s in sentences]))
    spans = model.spans(rows, 2)
    x = torch.randn(*rows.shape, SMALL.d_model)
    got = model.segments(x, rows, spans).view(2, 3, -1)
    for i, row in enumerate(rows):
        words = [w for w, t in enumerate(row.tolist()) if t != PAD]
        named = [w for w in words if model.names[row[w]]]
        first_end = next(w for w in named if w + 1 not in named)
        second_start = next(w for w in named if w > first_end)
        stretches = [
            [w for w in words if w < named[0]],
            [w for w in words if first_end < w < second_start],
            [w for w in words if w > named[-1]],
        ]
        for k, stretch in enumerate(stretches):
            want = x[i, stretch].mean(0) if stretch else torch.zeros(SMALL.d_model)
            assert torch.allclose(got[i, k], want, atol=1e-6), (sentences[i], k)
