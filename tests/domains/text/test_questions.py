"""Questions: every template, held-out ones included, reads back to the structure it was
rendered from, and only that; what is not a question of the domain is refused."""

import itertools

import numpy as np
import pytest

from ida.domains.text.kb import CITY, COMPANY, HELD_OUT, PERSON, RELATIONS, TRAIN
from ida.domains.text.questions import (
    ALL_FRAMES,
    ALL_PHRASES,
    FRAMES,
    MAX_HOPS,
    PHRASES,
    Query,
    parse_question,
    phrase_seeded,
    render,
)
from ida.domains.text.words import QUESTION_LEN, UNK, vocab

START = {PERSON: "Ada Brook", COMPANY: "Blue Fern Ltd", CITY: "Port Alden"}


def chains(hops):
    """Every well-typed chain of ``hops`` relations, with its start's type."""
    for relations in itertools.product(RELATIONS, repeat=hops):
        kind = RELATIONS[relations[0]].subject
        if all(
            RELATIONS[a].object == RELATIONS[b].subject for a, b in itertools.pairwise(relations)
        ):
            yield kind, relations


def queries():
    return [Query(START[k], rels) for hops in range(1, MAX_HOPS + 1) for k, rels in chains(hops)]


@pytest.mark.parametrize("kind", [TRAIN, HELD_OUT])
def test_every_question_reads_back_to_its_structure(kind):
    words = vocab()
    for query in queries():
        for seed in range(4):
            text = render(query, kind, np.random.default_rng(seed))
            assert parse_question(text) == query, text
            assert parse_question(text.lower().rstrip("?")) == query
            tokens = words.encode(text)
            assert UNK not in tokens and len(tokens) <= QUESTION_LEN


@pytest.mark.parametrize("kind", [TRAIN, HELD_OUT])
def test_render_names_the_templates_it_used_frame_first(kind):
    for query in queries():
        used = []
        text = render(query, kind, np.random.default_rng(3), used)
        assert [t.relation for t in used] == list(reversed(query.relations))
        assert used[0] in FRAMES[kind] and all(t in PHRASES[kind] for t in used[1:])
        rebuilt = query.entity
        for template in reversed(used):
            rebuilt = template.text.replace("{x}", rebuilt)
        assert text == rebuilt[0].upper() + rebuilt[1:]


def _wrap(template, inner_text):
    return template.text.replace("{x}", inner_text)


def _fits(template, inner):
    subject = RELATIONS[template.relation].subject
    kind = RELATIONS[inner.relations[-1]].object if inner.hops else _kind(inner.entity)
    return kind == subject and not (template.simple and inner.hops)


def _kind(name):
    return next(k for k, n in START.items() if n == name)


def test_every_pair_of_templates_reads_back_to_its_structure():
    """Every frame around every phrase around a name, and every frame around a name: all
    templates, train and held-out, mixed."""
    checked = 0
    for frame in ALL_FRAMES:
        for name in START.values():
            bare = Query(name, ())
            if _fits(frame, bare):
                assert parse_question(_wrap(frame, name)) == Query(name, (frame.relation,))
            for phrase in ALL_PHRASES:
                if not _fits(phrase, bare):
                    continue
                inner = Query(name, (phrase.relation,))
                if _fits(frame, inner):
                    text = _wrap(frame, _wrap(phrase, name))
                    assert parse_question(text) == Query(name, (phrase.relation, frame.relation))
                    checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "What is the weather in Arden?",
        "Who employs Bob Smith?",  # no such name in the pools
        "Who employs Arden?",  # a city has no employer
        "Who is Lumen Ltd's manager?",
        "Which country is Andoria in?",  # a country is in no country
        "Who manages the manager of the manager of the manager of the manager of Ada Brook?",
    ],
)
def test_what_is_not_a_question_of_the_domain_is_refused(text):
    with pytest.raises(ValueError):
        parse_question(text)


def test_a_possessive_is_only_said_of_a_name():
    # "the best friend of Ada Brook's manager": the friend of Ada's manager, never the
    # manager of Ada's friend
    query = parse_question("Who employs the best friend of Ada Brook's manager?")
    assert query == Query("Ada Brook", ("manager", "friend", "employer"))


def test_seeded_phrasing_is_deterministic_and_in_the_training_templates():
    query = Query("Ada Brook", ("employer", "headquarters"))
    a, b = phrase_seeded(query, "key"), phrase_seeded(query, "key")
    assert a == b and parse_question(a) == query
    train = {t.text for t in FRAMES[TRAIN]}
    assert any(a.lower().startswith(t.split("{x}")[0].lower()) for t in train)


def test_held_out_templates_are_never_trained_on_and_every_relation_has_several_shapes():
    for table in (FRAMES, PHRASES):
        trained = {t.text.lower() for t in table[TRAIN]}
        assert not trained & {t.text.lower() for t in table[HELD_OUT]}
    for relation in RELATIONS:
        frames = [t.text for t in FRAMES[TRAIN] if t.relation == relation]
        assert any(f.startswith("{x}") for f in frames) or relation == "employer"
        assert sum(not f.startswith("{x}") for f in frames) >= 3
