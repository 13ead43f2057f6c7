"""The knowledge base: worlds are well formed, the solver follows relations, and every fact
template (held-out ones included) reads back to its fact."""

import numpy as np
import pytest

from ida.domains.text.kb import (
    COUNTRY,
    FACT_TEMPLATES,
    HELD_OUT,
    PERSON,
    RELATIONS,
    TRAIN,
    fact_sentence,
    num_facts,
    parse_fact,
    pool_words,
    read_facts,
    sample_world,
    tell,
)
from ida.domains.text.words import FACT_LEN, split, vocab


@pytest.mark.parametrize("people", [4, 8, 12])
def test_a_world_has_every_relation_of_every_entity_with_the_right_types(people):
    world = sample_world(np.random.default_rng(people), people)
    assert len(world.triples()) == num_facts(people)
    kinds = {name: kind for kind, names in world.entities.items() for name in names}
    assert len(kinds) == sum(map(len, world.entities.values()))  # no name twice
    for subject, relation, obj in world.triples():
        r = RELATIONS[relation]
        assert kinds[subject] == r.subject and kinds[obj] == r.object
        assert subject != obj
    for person in world.entities[PERSON]:
        first, last = person.split()
        assert sum(p.startswith(first + " ") for p in world.entities[PERSON]) == 1
        assert sum(p.endswith(" " + last) for p in world.entities[PERSON]) == 1


def test_the_solver_follows_the_relations():
    world = sample_world(np.random.default_rng(0), 8)
    person = world.entities[PERSON][0]
    company = world.links[(person, "employer")]
    city = world.links[(company, "headquarters")]
    assert (
        world.follow(person, ("employer", "headquarters", "country"))
        == world.links[(city, "country")]
    )
    assert world.follow(person, ()) == person
    assert world.follow(person, ("home", "country")) in world.entities[COUNTRY]


@pytest.mark.parametrize("relation", sorted(FACT_TEMPLATES))
def test_every_fact_template_reads_back_to_its_fact(relation):
    world = sample_world(np.random.default_rng(1), 8)
    triples = [t for t in world.triples() if t[1] == relation]
    for templates in FACT_TEMPLATES[relation].values():
        for template in templates:
            for s, r, o in triples:
                sentence = fact_sentence(s, r, o, template)
                assert parse_fact(sentence) == (s, r, o), sentence
                assert parse_fact(sentence.upper()) == (s, r, o)
                assert len(split(sentence)) <= FACT_LEN


def test_told_facts_in_either_template_set_read_back_to_the_world():
    world = sample_world(np.random.default_rng(2), 10)
    for templates in (TRAIN, HELD_OUT):
        facts = tell(world, np.random.default_rng(3), templates)
        table = read_facts(tuple(facts))
        assert {(s.lower(), r): o for (s, r), o in world.links.items()} == table


def test_no_template_is_both_trained_on_and_held_out():
    for sets in FACT_TEMPLATES.values():
        assert not set(sets[TRAIN]) & set(sets[HELD_OUT])


def test_sentences_that_state_no_fact_are_not_read():
    assert parse_fact("Ada Brook works for Arden.") is None  # a city employs nobody
    assert parse_fact("Bob Smith works for Lumen Ltd.") is None  # not a name of the pools
    assert parse_fact("The sky is blue.") is None


def test_names_and_template_words_are_all_in_the_vocabulary_and_do_not_overlap():
    words = vocab()
    names = {w.lower() for w in pool_words()}
    assert all(w in words.ids for w in names)
    templates = set(words.ids) - names
    assert not names & templates


def test_every_relation_is_told_subject_first_and_object_first_in_training():
    """So that which name is the subject is read from the words, not from the order."""
    for relation, sets in FACT_TEMPLATES.items():
        orders = {t.index("{s}") < t.index("{o}") for t in sets[TRAIN]}
        assert orders == {True, False}, relation
