"""A language model behind an OpenAI-compatible endpoint as this domain's H (``--overseer
llm``) or as its A for subquestions (``--set answerer=endpoint``): the client a config names,
and few-shot examples made by the scripted H on worlds of their own."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ida.domains.text.data import sample_query
from ida.domains.text.kb import TRAIN, sample_world, tell
from ida.domains.text.protocol import Move, Step, check_move, make_step
from ida.domains.text.questions import parse_question, render
from ida.domains.text.script import ScriptedH
from ida.overseers.llm import ChatClient, LLMAnswerer, LLMOverseer, Sampling

SHOTS_SEED = 1000  # the examples' worlds: never a training or evaluation world


def default_cache() -> Path:
    """Where replies are cached unless ``llm_cache`` says: one file for every run, so a rerun
    of anything costs no call."""
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "ida" / "llm.sqlite"


def client_of(cfg) -> ChatClient:
    """The chat client ``cfg`` names (``endpoint``, ``llm_model``, ``llm_*`` settings)."""
    return ChatClient(
        cfg.endpoint,
        cfg.llm_model,
        sampling=Sampling(temperature=cfg.llm_temperature, max_tokens=64, stop=("\n",)),
        concurrency=cfg.llm_concurrency,
        timeout=cfg.llm_timeout,
        cache=Path(cfg.llm_cache) if cfg.llm_cache else default_cache(),
    )


def path_of(
    facts: list[str], question: str, truth, h: ScriptedH | None = None
) -> list[tuple[Step, Move]]:
    """The scripted H's steps through ``question`` with true subanswers (``truth(query)``),
    each with its move, until it answers."""
    h = h or ScriptedH()
    answered: list[list[str]] = []
    path = []
    while True:
        step = make_step(facts, question, [list(a) for a in answered], False)
        move = h.move(step)
        if move is None:
            raise RuntimeError(f"the scripted H gave up on {question!r}")
        path.append((step, move))
        if "answer" in move:
            return path
        answered += [[sub, truth(parse_question(sub))] for sub in move["ask"]]


def example_paths(people: int, hops=(1, 2), seed: int = SHOTS_SEED) -> list[list]:
    """The scripted H's paths through one question of each of ``hops`` hops, each on a world
    of its own: few-shot examples of the weak HCH protocol."""
    rng = np.random.default_rng(seed)
    paths = []
    for n in hops:
        world = sample_world(rng, people)
        facts = tell(world, rng, TRAIN)
        question = render(sample_query(world, n, rng), TRAIN, rng)
        paths.append(path_of(facts, question, lambda q, w=world: w.follow(q.entity, q.relations)))
    return paths


def llm_overseer(cfg) -> LLMOverseer:
    """H as the language model ``cfg`` names, shown the scripted H's moves as examples."""
    shots = [pair for path in example_paths(cfg.people) for pair in path]
    return LLMOverseer(client_of(cfg), shots, check_move, tries=cfg.llm_tries)


def llm_answerer(cfg) -> LLMAnswerer:
    """A for subquestions as the language model ``cfg`` names, shown one-hop examples."""
    triples = [
        (path[0][0]["facts"], path[0][0]["question"], path[-1][1]["answer"])
        for path in example_paths(cfg.people, hops=(1, 1))
    ]
    return LLMAnswerer(client_of(cfg), triples, tries=cfg.llm_tries)
