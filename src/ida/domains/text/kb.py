"""A generated knowledge base, told in English: people, where they live, who employs and
manages them, their best friends, where their employers are based and which countries hold the
cities.

Every relation is a function (each subject has one object), so a chain of relations from an
entity has one answer, which ``World.follow`` (the exact solver, for evaluation and the
supervised baseline only) finds. Facts are sentences drawn from several paraphrases per
relation; a held-out set of paraphrases (``HELD_OUT``) never appears in training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PERSON, COMPANY, CITY, COUNTRY = "person", "company", "city", "country"
TRAIN, HELD_OUT = "train", "held_out"  # the two sets of templates


@dataclass(frozen=True)
class Relation:
    """A function from entities of type ``subject`` to entities of type ``object``."""

    name: str
    subject: str
    object: str


RELATIONS = {
    r.name: r
    for r in (
        Relation("employer", PERSON, COMPANY),
        Relation("manager", PERSON, PERSON),
        Relation("friend", PERSON, PERSON),
        Relation("home", PERSON, CITY),
        Relation("headquarters", COMPANY, CITY),
        Relation("country", CITY, COUNTRY),
    )
}

FIRST = (
    "Ada Alan Bea Cyril Dora Edith Felix Greta Hugo Iris Jonas Kira Lena Milo Nora Otto Pia "
    "Quinn Rosa Silas Tess Umar Vera Wade Xena Yara Zane Bruno Clara Elio Fiona Gideon Hanna "
    "Ivor Jade Kurt Lotte Mira Nils Olga"
).split()
LAST = (
    "Brook Carter Dunn Ellis Frost Grant Hale Irwin Jarvis Keane Lowe Marsh Nash Oakes Price "
    "Quill Reyes Stone Thorne Upton Vance Webb Yates Zeller Archer Bishop Cole Drake Finch "
    "Garner Hayes Ingram Kerr Lyle Moss Noble Pike Rook Shaw Tate"
).split()
STEMS = (
    "Lumen|Apex|Vertex|Nimbus|Cobalt|Quartz|Zenith|Orbit|Pinnacle|Beacon|Cascade|Ember|Falcon|"
    "Glacier|Harbor Light|Iron Gate|Juniper|Kestrel|Lattice|Meridian|Nova|Onyx|Polaris|Redwood|"
    "Summit|Tundra|Blue Fern|Willow|Silver Oak|Cinder"
).split("|")
SUFFIXES = ("Ltd", "Corp", "Inc", "Group", "Labs")
CITIES = (
    "Arden|Belmont|Corvale|Dunmore|Elmstead|Fairhaven|Glenrock|Hollowell|Ivybridge|Kingsport|"
    "Lakemoor|Millbrook|Northwick|Oakridge|Port Alden|Queensbury|Ravenhill|Stonebridge|"
    "Thornbury|Westfield|New Varna|Ashford|Brightwater|Coldspring|Port Melis"
).split("|")
COUNTRIES = (
    "Andoria|Belravia|Calderon|Dravonia|Estmark|Florin|Galdor|Hestia|Ilyria|Jorvik|Kalmar|"
    "Lorvania|Mistral|Nordhavn|Ostrava|Parvenia"
).split("|")

# Facts: "{s}" is the subject, "{o}" the object. Each relation's sentences use its keyword
# ("employ", "manage", "friend", ...) so that a reader who knows the words can read a new one.
FACT_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "employer": {
        TRAIN: (
            "{s} works for {o}.",
            "{s} works at {o}.",
            "{o} employs {s}.",
            "The employer of {s} is {o}.",
            "{s}'s employer is {o}.",
            "{o} is the employer of {s}.",
            "{o} is the company {s} works for.",
        ),
        HELD_OUT: ("{s} is employed by {o}.",),
    },
    "manager": {
        TRAIN: (
            "{s} reports to {o}.",
            "{o} manages {s}.",
            "The manager of {s} is {o}.",
            "{s}'s manager is {o}.",
            "{o} is the boss of {s}.",
            "{o} is {s}'s manager.",
            "{s} has {o} as a manager.",
        ),
        HELD_OUT: ("{o} is the manager of {s}.",),
    },
    "friend": {
        TRAIN: (
            "The best friend of {s} is {o}.",
            "{s}'s best friend is {o}.",
            "{s} calls {o} a best friend.",
            "{o} is {s}'s best friend.",
            "{o} is a best friend to {s}.",
            "{s} has {o} as a best friend.",
        ),
        HELD_OUT: ("{o} is the best friend of {s}.",),
    },
    "home": {
        TRAIN: (
            "{s} lives in {o}.",
            "{s} has a home in {o}.",
            "The home of {s} is in {o}.",
            "{s}'s home is in {o}.",
            "{o} is home to {s}.",
            "{o} is the home of {s}.",
        ),
        HELD_OUT: ("{o} is where {s} lives.",),
    },
    "headquarters": {
        TRAIN: (
            "{s} is based in {o}.",
            "{s} is headquartered in {o}.",
            "The headquarters of {s} are in {o}.",
            "{s}'s headquarters are in {o}.",
            "{o} hosts the headquarters of {s}.",
            "{o} is home to the headquarters of {s}.",
        ),
        HELD_OUT: ("{o} is the base of {s}.",),
    },
    "country": {
        TRAIN: (
            "{s} is in {o}.",
            "{s} is a city in {o}.",
            "{s} lies in {o}.",
            "{s}'s country is {o}.",
            "{o} contains {s}.",
            "{o} is the country of {s}.",
        ),
        HELD_OUT: ("{s} is located in {o}.",),
    },
}


def _entities() -> dict[str, tuple[str, str]]:
    """Every name the pools can make, lower-cased -> (its spelling, its type)."""
    found: dict[str, tuple[str, str]] = {}
    names = [(f"{a} {b}", PERSON) for a in FIRST for b in LAST]
    names += [(f"{a} {b}", COMPANY) for a in STEMS for b in SUFFIXES]
    names += [(c, CITY) for c in CITIES] + [(c, COUNTRY) for c in COUNTRIES]
    for name, kind in names:
        found[name.lower()] = (name, kind)
    return found


ENTITIES = _entities()


def entity(text: str) -> tuple[str, str] | None:
    """``text`` as a name the pools can make: (its spelling, its type); None if it is not one."""
    return ENTITIES.get(" ".join(text.lower().split()))


def pool_words() -> list[str]:
    """Every word of every name in the pools."""
    return sorted({w for name, _ in ENTITIES.values() for w in name.split()})


@dataclass
class World:
    """One instance: its entities by type and every relation's value, (subject, relation) ->
    object."""

    entities: dict[str, list[str]]
    links: dict[tuple[str, str], str]

    def follow(self, start: str, relations: tuple[str, ...]) -> str:
        """The exact answer: the entity reached from ``start`` along ``relations``."""
        at = start
        for name in relations:
            at = self.links[(at, name)]
        return at

    def triples(self) -> list[tuple[str, str, str]]:
        """Every fact as (subject, relation, object)."""
        return [(s, r, o) for (s, r), o in self.links.items()]


def counts(people: int) -> dict[str, int]:
    """How many entities of each type a world of ``people`` people has."""
    return {PERSON: people, COMPANY: max(2, people // 2), CITY: people // 2 + 1, COUNTRY: 3}


def num_facts(people: int) -> int:
    """Facts in a world of ``people`` people: four per person, one per company and city."""
    n = counts(people)
    return 4 * n[PERSON] + n[COMPANY] + n[CITY]


def sample_world(rng: np.random.Generator, people: int) -> World:
    """A fresh world: names drawn without repeats (no two people share a first or a last
    name, no two companies a stem), every relation drawn uniformly among the right type."""
    n = counts(people)
    firsts = rng.choice(FIRST, n[PERSON], replace=False)
    lasts = rng.choice(LAST, n[PERSON], replace=False)
    stems = rng.choice(STEMS, n[COMPANY], replace=False)
    suffixes = rng.choice(SUFFIXES, n[COMPANY])
    entities = {
        PERSON: [f"{a} {b}" for a, b in zip(firsts, lasts, strict=True)],
        COMPANY: [f"{a} {b}" for a, b in zip(stems, suffixes, strict=True)],
        CITY: [str(c) for c in rng.choice(CITIES, n[CITY], replace=False)],
        COUNTRY: [str(c) for c in rng.choice(COUNTRIES, n[COUNTRY], replace=False)],
    }
    links: dict[tuple[str, str], str] = {}
    for rel in RELATIONS.values():
        for i, subject in enumerate(entities[rel.subject]):
            choices = entities[rel.object]
            if rel.subject == rel.object:  # nobody manages or befriends themselves
                j = int(rng.integers(len(choices) - 1))
                links[(subject, rel.name)] = choices[j + (j >= i)]
            else:
                links[(subject, rel.name)] = choices[int(rng.integers(len(choices)))]
    return World(entities, links)


def fact_sentence(subject: str, relation: str, obj: str, template: str) -> str:
    """One fact in words."""
    text = template.format(s=subject, o=obj)
    return text[0].upper() + text[1:]


def tell(world: World, rng: np.random.Generator, templates: str = TRAIN) -> list[str]:
    """The world's facts as sentences in random order, each in a paraphrase drawn from
    ``templates`` (TRAIN or HELD_OUT)."""
    sentences = []
    for s, r, o in world.triples():
        options = FACT_TEMPLATES[r][templates]
        sentences.append(fact_sentence(s, r, o, options[int(rng.integers(len(options)))]))
    order = rng.permutation(len(sentences))
    return [sentences[i] for i in order]


def _pattern(template: str) -> re.Pattern:
    """A template as a case-insensitive regular expression with groups ``s`` and ``o``."""
    body = template.rstrip(".")
    parts = re.split(r"(\{s\}|\{o\})", body)
    regex = "".join(
        "(?P<s>.+?)" if p == "{s}" else "(?P<o>.+?)" if p == "{o}" else re.escape(p) for p in parts
    )
    return re.compile(regex + r"\s*\.?", re.IGNORECASE)


FACT_PATTERNS = [
    (rel, _pattern(t)) for rel, sets in FACT_TEMPLATES.items() for ts in sets.values() for t in ts
]


def parse_fact(sentence: str) -> tuple[str, str, str] | None:
    """A fact sentence (any template) as (subject, relation, object), names spelled as in the
    pools, if it states one relation between two names of the right types; else None."""
    text = " ".join(sentence.split())
    for rel, pattern in FACT_PATTERNS:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        s, o = entity(m["s"]), entity(m["o"])
        r = RELATIONS[rel]
        if s and o and s[1] == r.subject and o[1] == r.object:
            return s[0], rel, o[0]
    return None


@lru_cache(maxsize=4096)
def read_facts(facts: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """What a reader takes from ``facts``: (subject, relation) -> object, names lower-cased
    (sentences that state no fact are skipped)."""
    found = {}
    for sentence in facts:
        fact = parse_fact(sentence)
        if fact is not None:
            s, r, o = fact
            found[(s.lower(), r)] = o
    return found


def named(facts: tuple[str, ...]) -> set[str]:
    """Every entity ``facts`` name, lower-cased."""
    table = read_facts(facts)
    return {s for s, _ in table} | {o.lower() for o in table.values()}
