"""Word-level tokens: the vocabulary (every word of the name pools and of every template,
held-out ones included, so that any question or fact of the domain can be encoded) and the
fixed lengths of facts, questions and answers as token rows."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from ida.domains.text.kb import ENTITIES, FACT_TEMPLATES, TRAIN, pool_words
from ida.domains.text.questions import ALL_FRAMES, ALL_PHRASES, FRAMES, MAX_HOPS, PHRASES

PAD, BOS, END, UNK = 0, 1, 2, 3
SPECIAL = ("<pad>", "<bos>", "<end>", "<unk>")
MAX_ANSWER_WORDS = 3
ANSWER_LEN = MAX_ANSWER_WORDS + 1  # the words and the end token
WORD = re.compile(r"'s|[a-z]+|[?.,]")


def split(text: str) -> list[str]:
    """``text`` as lower-case words and punctuation ("Ada's?" -> ada 's ?)."""
    return WORD.findall(text.lower())


def _blank(template: str) -> str:
    """A template without its placeholders."""
    return re.sub(r"\{[sox]\}", " ", template)


def _template_words() -> set[str]:
    texts = [t for sets in FACT_TEMPLATES.values() for ts in sets.values() for t in ts]
    texts += [t.text for t in ALL_FRAMES + ALL_PHRASES]
    return {w for text in texts for w in split(_blank(text))}


class Vocab:
    """Word <-> token id; names come back spelled as in the pools."""

    def __init__(self):
        words = sorted({w.lower() for w in pool_words()} | _template_words())
        self.words = list(SPECIAL) + words
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.spelling = {w.lower(): w for w in pool_words()}

    def __len__(self) -> int:
        return len(self.words)

    def name_mask(self) -> np.ndarray:
        """[len(self)]: which tokens are words of names."""
        return np.asarray([w in self.spelling for w in self.words])

    def filler_mask(self) -> np.ndarray:
        """[len(self)]: the *filler* words, those of the training questions' templates of two
        relations or more (a word that names no one relation: "the", "who", "person")."""
        return np.isin(self.words, sorted(filler_words()))

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(w, UNK) for w in split(text)]

    def row(self, text: str, length: int, left: bool = False) -> np.ndarray:
        """``text`` as a row of ``length`` tokens, padded (on the left with ``left``); a
        ValueError if it is longer."""
        tokens = self.encode(text)
        if len(tokens) > length:
            raise ValueError(f"{len(tokens)} tokens, more than {length}: {text!r}")
        pad = [PAD] * (length - len(tokens))
        return np.asarray(pad + tokens if left else tokens + pad, dtype=np.int64)

    def answer_row(self, text: str) -> np.ndarray | None:
        """An answer's tokens and the end token, padded to ``ANSWER_LEN``; None if it does not
        fit (too long, or a word the vocabulary lacks)."""
        tokens = self.encode(text)
        if not tokens or len(tokens) > MAX_ANSWER_WORDS or UNK in tokens:
            return None
        return np.asarray(tokens + [END] + [PAD] * (MAX_ANSWER_WORDS - len(tokens)))

    def decode(self, tokens) -> str:
        """Tokens up to the end token as text, names spelled as in the pools."""
        out = []
        for t in tokens:
            t = int(t)
            if t == END or t == PAD:
                break
            word = self.words[t]
            out.append(self.spelling.get(word, word))
        return " ".join(out)


def filler_words() -> set[str]:
    """The words (no punctuation) of the training questions' templates of two relations or
    more."""
    relations: dict[str, set[str]] = {}
    for t in FRAMES[TRAIN] + PHRASES[TRAIN]:
        for word in split(_blank(t.text)):
            relations.setdefault(word, set()).add(t.relation)
    return {w for w, rels in relations.items() if len(rels) > 1 and w.isalpha()}


@lru_cache(maxsize=1)
def vocab() -> Vocab:
    """The domain's one vocabulary."""
    return Vocab()


def _longest(texts, filler: int) -> int:
    return max(len(split(_blank(t))) for t in texts) + filler


NAME_LEN = max(len(split(name)) for name, _ in ENTITIES.values())
FACT_LEN = _longest(
    [t for s in FACT_TEMPLATES.values() for ts in s.values() for t in ts], 2 * NAME_LEN
)
QUESTION_LEN = (
    _longest([t.text for t in ALL_FRAMES], 0)
    + (MAX_HOPS - 1) * _longest([t.text for t in ALL_PHRASES], 0)
    + NAME_LEN
    + 1  # a possessive's "'s"
)
