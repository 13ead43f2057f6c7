"""Engine throughput: amplified nodes per second batched, one question at a time, and the
model's pure batched forward throughput at the same batch size.

Two ceilings: ``forward_answers_per_s``, answering a batch of questions about instances already
encoded; and ``model_answers_per_s``, the model alone doing the amplification's model work
(encode every instance once, then answer as many questions in batches of the same size), which
is the limit the engine can approach. ``fraction_of_forward`` and ``fraction_of_model`` are the
engine's model answers per second as shares of each."""

from __future__ import annotations

import time

import numpy as np
import torch

from ida.core.engine import Engine
from ida.domains.qa.amplify.decompose import Decomposition
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.models.transformer import ModelSettings, ModelShape, QAModel
from ida.domains.qa.tasks import get_task
from ida.domains.qa.trace import MODEL


def bench_engine(
    task_name: str = "permutation_powering",
    size: int | None = None,
    trees: int = 4096,
    per_instance: int = 16,
    serial_trees: int = 128,
    d_model: int = 128,
    seed: int = 0,
    repeats: int = 9,
) -> dict:
    """Time Amplify(H, A) over ``trees`` top-level questions, batched and one at a time.

    The batched run and the pure forward pass are timed ``repeats`` times, in alternation, and
    the medians are reported (the fraction is the median of the paired ratios): single timings on
    a shared CPU swing by half."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    task = get_task(task_name, size)
    settings = ModelSettings(d_model=d_model)
    shape = ModelShape(
        task.vocab_size, task.answer_size, task.fact_len, task.question_len, settings
    )
    model = QAModel(shape).eval()
    insts = [task.sample_instance(rng) for _ in range(max(trees // per_instance, 1))]
    top = task.num_levels - 1
    roots = [
        (i % len(insts), task.sample_question(rng, insts[i % len(insts)], top))
        for i in range(trees)
    ]

    def amplify(batch_insts, batch_roots, engine) -> tuple[float, int, int]:
        start = time.perf_counter()
        answerer = BatchedAnswerer(
            model, torch.from_numpy(np.stack([i.facts for i in batch_insts]))
        )
        nodes = Decomposition(task, engine).run(batch_insts, batch_roots, answerer)
        seconds = time.perf_counter() - start
        counts = [n.by == MODEL for tree in nodes for n in tree.walk()]
        return seconds, len(counts), sum(counts)

    amplify(insts, roots[:256], Engine())  # warm up
    engine = Engine()
    _, nodes, model_calls = amplify(insts, roots, engine)
    mean_batch = engine.stats.mean_batch

    serial_seconds, serial_nodes = 0.0, 0
    for slot, question in roots[:serial_trees]:
        s, n, _ = amplify([insts[slot]], [(0, question)], Engine())
        serial_seconds += s
        serial_nodes += n

    batch = max(int(round(mean_batch)), 1)
    facts = torch.from_numpy(np.stack([i.facts for i in insts]))
    memory = BatchedAnswerer(model, facts).memory
    items = [(slot, q) for slot, q in roots[:batch]]
    items = (items * -(-batch // len(items)))[:batch]  # repeated up to a full batch
    slots = torch.tensor([s for s, _ in items])
    questions = torch.tensor([q for _, q in items])

    def timed(fn) -> float:
        with torch.inference_mode():
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

    def forward() -> None:
        model.answer_logits(model.select(memory, slots), questions).argmax(-1)

    timed(forward)
    # timed in alternation, so that the engine and the model alone see the same load
    runs = np.array(
        [
            (amplify(insts, roots, Engine())[0], timed(forward), timed(lambda: model.encode(facts)))
            for _ in range(repeats)
        ]
    )
    engine_s, forward_s, encode_s = runs.T
    # the model alone doing the run's model work: encode every instance, answer in full batches
    model_s = encode_s + model_calls / batch * forward_s
    seconds = float(np.median(engine_s))
    batched = nodes / seconds
    return {
        "task": task.name,
        "size": task.size,
        "trees": trees,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "nodes": nodes,
        "model_calls": model_calls,
        "mean_batch": round(mean_batch, 1),
        "batched_nodes_per_s": round(batched, 1),
        "batched_model_answers_per_s": round(model_calls / seconds, 1),
        "serial_nodes_per_s": round(serial_nodes / serial_seconds, 1),
        "forward_answers_per_s": round(batch / float(np.median(forward_s)), 1),
        "model_answers_per_s": round(model_calls / float(np.median(model_s)), 1),
        "speedup_vs_serial": round(batched / (serial_nodes / serial_seconds), 1),
        "fraction_of_forward": round(
            float(np.median(model_calls / engine_s / (batch / forward_s))), 3
        ),
        "fraction_of_model": round(float(np.median(model_s / engine_s)), 3),
    }
