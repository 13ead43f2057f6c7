"""Questions in English about a knowledge base, and their structure.

A question is a chain of relations from a named entity (``Query``): "Which country is the city
where the employer of Ada Brook is based in?" is ``Query("Ada Brook", ("employer",
"headquarters", "country"))``, 3 hops. Its words come from a *frame* for the last relation
("Which country is {x} in?") around *noun phrases* for the others ("the employer of {x}").
Each has several paraphrases; a held-out set of them never appears in training.
``parse_question`` reads any of them (train or held-out) back to its ``Query``.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from ida.domains.text.kb import HELD_OUT, RELATIONS, TRAIN, World, entity

MAX_HOPS = 4


@dataclass(frozen=True)
class Query:
    """The structure of a question: start at ``entity``, follow ``relations`` in order."""

    entity: str
    relations: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.relations)


@dataclass(frozen=True)
class Template:
    """One paraphrase of ``relation`` around ``{x}``; ``simple``: only about a plain name (a
    possessive around a phrase would be ambiguous: "the friend of Ada Brook's manager")."""

    relation: str
    text: str
    simple: bool = False

    @property
    def pattern(self) -> re.Pattern:
        return _compile(self.text)


def _templates(table: dict[str, tuple[str, ...]]) -> tuple[Template, ...]:
    return tuple(
        Template(rel, text.removeprefix("!"), text.startswith("!"))
        for rel, texts in table.items()
        for text in texts
    )


# "!" marks a template used only around a plain name.
FRAMES = {
    TRAIN: _templates(
        {
            "employer": (
                "Who employs {x}?",
                "Which company does {x} work for?",
                "For which company does {x} work?",
                "Which company employs {x}?",
                "What is the employer of {x}?",
                "!What is {x}'s employer?",
            ),
            "manager": (
                "Who manages {x}?",
                "Who is the manager of {x}?",
                "Who does {x} report to?",
                "Which person does {x} report to?",
                "Which person is the boss of {x}?",
                "{x} reports to whom?",
                "{x} reports to which person?",
                "!Who is {x}'s manager?",
            ),
            "friend": (
                "Who is the best friend of {x}?",
                "Whom does {x} call a best friend?",
                "{x} calls which person a best friend?",
                "Which person does {x} call a best friend?",
                "!Who is {x}'s best friend?",
            ),
            "home": (
                "Where does {x} live?",
                "Which city does {x} live in?",
                "In what city does {x} have a home?",
                "{x} lives in which city?",
                "What is the home of {x}?",
                "!What is {x}'s home?",
            ),
            "headquarters": (
                "Where is {x} based?",
                "Which city is {x} headquartered in?",
                "In which city are the headquarters of {x}?",
                "{x} is based in which city?",
                "Where are the headquarters of {x}?",
                "!Where are {x}'s headquarters?",
            ),
            "country": (
                "Which country is {x} in?",
                "What is the country of {x}?",
                "In what country does {x} lie?",
                "{x} is in which country?",
                "Which country contains {x}?",
                "!What is {x}'s country?",
            ),
        }
    ),
    HELD_OUT: _templates(
        {
            "employer": ("{x} works for which company?",),
            "manager": ("Which person manages {x}?",),
            "friend": ("Which person is the best friend of {x}?",),
            "home": ("In which city does {x} live?",),
            "headquarters": ("In which city is {x} based?",),
            "country": ("In which country is {x}?",),
        }
    ),
}
PHRASES = {
    TRAIN: _templates(
        {
            "employer": (
                "the employer of {x}",
                "the company {x} works for",
                "the company employing {x}",
                "the company where {x} works",
                "the company which is the employer of {x}",
                "!{x}'s employer",
            ),
            "manager": (
                "the manager of {x}",
                "the boss of {x}",
                "the person who is the boss of {x}",
                "the person who supervises {x}",
                "the person {x} reports to",
                "the one managing {x}",
                "!{x}'s manager",
            ),
            "friend": (
                "the best friend of {x}",
                "the one {x} calls a best friend",
                "the person whom {x} calls a best friend",
                "the person who is a best friend to {x}",
                "!{x}'s best friend",
            ),
            "home": (
                "the city where {x} lives",
                "the home of {x}",
                "the city that is home to {x}",
                "the city that is the home of {x}",
                "!{x}'s home",
            ),
            "headquarters": (
                "the city where {x} is based",
                "the headquarters of {x}",
                "the city {x} is headquartered in",
                "the city that hosts the headquarters of {x}",
                "!{x}'s headquarters",
            ),
            "country": (
                "the country of {x}",
                "the country {x} is in",
                "the country containing {x}",
                "the country that contains {x}",
                "!{x}'s country",
            ),
        }
    ),
    HELD_OUT: _templates(
        {
            "employer": ("the company that employs {x}",),
            "manager": ("the person who manages {x}",),
            "friend": ("the person who is the best friend of {x}",),
            "home": ("the city {x} lives in",),
            "headquarters": ("the city {x} is based in",),
            "country": ("the country that {x} is in",),
        }
    ),
}
ALL_FRAMES = FRAMES[TRAIN] + FRAMES[HELD_OUT]
ALL_PHRASES = PHRASES[TRAIN] + PHRASES[HELD_OUT]


@cache
def _compile(text: str) -> re.Pattern:
    body = re.escape(text.rstrip("?")).replace(r"\{x\}", "(.+)")
    return re.compile(body, re.IGNORECASE)


def normalize(text: str) -> str:
    """Spaces collapsed, the end's punctuation and spaces dropped, "'s" joined to its word."""
    text = " ".join(text.split()).rstrip(" ?.")
    return text.replace(" 's", "'s")


def _phrase(query: Query, kind: str, rng: np.random.Generator, used: list[Template]) -> str:
    """``query`` as a noun phrase (a name when it has no hops)."""
    if not query.hops:
        return query.entity
    inner = Query(query.entity, query.relations[:-1])
    options = _fitting(PHRASES[kind], query.relations[-1], inner)
    template = options[int(rng.integers(len(options)))]
    used.append(template)
    return template.text.replace("{x}", _phrase(inner, kind, rng, used))


def _fitting(templates: tuple[Template, ...], relation: str, inner: Query) -> list[Template]:
    return [t for t in templates if t.relation == relation and not (t.simple and inner.hops)]


def render(
    query: Query, kind: str, rng: np.random.Generator, used: list[Template] | None = None
) -> str:
    """``query`` in English, each frame and phrase drawn from the ``kind`` templates (appended
    to ``used``, where given: the frame, then the phrases from the outside in)."""
    if not query.hops:
        raise ValueError("a question has at least one hop")
    used = [] if used is None else used
    inner = Query(query.entity, query.relations[:-1])
    options = _fitting(FRAMES[kind], query.relations[-1], inner)
    template = options[int(rng.integers(len(options)))]
    used.append(template)
    text = template.text.replace("{x}", _phrase(inner, kind, rng, used))
    return text[0].upper() + text[1:]


def phrase_seeded(query: Query, key: str) -> str:
    """``query`` in the training templates, drawn by a hash of ``key`` (deterministic)."""
    return render(query, TRAIN, np.random.default_rng(zlib.crc32(key.encode())))


def type_of(query: Query) -> str:
    """The type of entity ``query`` asks for."""
    if query.hops:
        return RELATIONS[query.relations[-1]].object
    found = entity(query.entity)
    assert found is not None
    return found[1]


@lru_cache(maxsize=65536)
def _phrases(text: str) -> tuple[Query, ...]:
    """Every reading of ``text`` as a noun phrase (a name, or a phrase around one)."""
    name = entity(text)
    found = [] if name is None else [Query(name[0], ())]
    return tuple(dict.fromkeys(found + _around(ALL_PHRASES, text)))


@lru_cache(maxsize=65536)
def _questions(text: str) -> tuple[Query, ...]:
    """Every reading of ``text`` as a question."""
    return tuple(dict.fromkeys(_around(ALL_FRAMES, text)))


def _around(templates, text: str) -> list[Query]:
    """The readings of ``text`` as one of ``templates`` around a noun phrase: one more hop."""
    found = []
    for t in templates:
        m = t.pattern.fullmatch(text)
        if m is None:
            continue
        for inner in _phrases(m.group(1)):
            if inner.hops < MAX_HOPS and _fits(t, inner):
                found.append(Query(inner.entity, inner.relations + (t.relation,)))
    return found


def _fits(t: Template, inner: Query) -> bool:
    return not (t.simple and inner.hops) and type_of(inner) == RELATIONS[t.relation].subject


def parse_question(text: str) -> Query:
    """The structure of a question in any of the templates (train or held-out); a ValueError
    saying why if it is none of them, names no entity of the pools, asks a relation of the
    wrong type of entity, has more than ``MAX_HOPS`` hops, or reads two ways."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not a question: empty")
    found = _questions(normalize(text))
    if not found:
        raise ValueError(f"not a question of this domain: {text!r}")
    if len(found) > 1:
        raise ValueError(f"ambiguous question: {text!r}")
    return found[0]


def answer_of(world: World, question: str) -> str | None:
    """The exact answer to ``question`` about ``world`` (None: it is no question of the domain,
    or asks about an entity or a relation the world does not have)."""
    try:
        query = parse_question(question)
        return world.follow(query.entity, query.relations)
    except (ValueError, KeyError):
        return None
