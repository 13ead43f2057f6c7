"""What the tests of the programs domain share: a run of a second or two, and well-typed random
programs (valid or not)."""

from __future__ import annotations

import random

from ida.domains.programs.deepcoder import INT, LIST
from ida.domains.programs.language import Language, Program, Statement

# a run of a second or two: rounds of 6 tasks, a yardstick of 2 tasks of lengths 1 and 2
TINY = {
    "steps": 6,
    "eval_every": 3,
    "steps_per_round": 2,
    "tasks": 6,
    "budget": 60,
    "batch_size": 16,
    "net": {"width": 16},
    "eval": {"lengths": [1, 2], "tasks": 2, "budget": 40},
    "device": "cpu",
}


def random_program(language: Language, rng: random.Random, n_statements: int) -> Program:
    """A well-typed program of ``n_statements`` over a list input and up to two more (ints or
    lists); its values may be invalid on a given example."""
    inputs = (LIST, *(rng.choice([INT, LIST]) for _ in range(rng.randint(0, 2))))
    program = Program(inputs)
    for _ in range(n_statements):
        types = program.types(language)
        ops = [i for i, op in enumerate(language.ops) if all(t in types for t in op.args)]
        op = rng.choice(ops)
        args = [
            rng.choice([j for j, t in enumerate(types) if t == a]) for a in language.ops[op].args
        ]
        program = program.then(Statement(op, tuple(args)))
    return program
