"""Amplify for programs: a round of searches over generated tasks, with the teacher net as the
search's policy and world model and the simulator as H; what the searches found (and what they
tried) becomes the rows the net is distilled on.

``solve`` runs many tasks' searches in one engine, the net's and the simulator's work batched
across all of them; ``ProgramSearch`` is the amplifier the core loop drives (propose: draw the
round's tasks by the length curriculum; expand: search them; absorb: rows, counts and the
curriculum).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch

from ida.core.curriculum import Curriculum
from ida.core.engine import Engine
from ida.core.loop import merge_counted, split_items
from ida.domains.programs.distill import EditRows
from ida.domains.programs.encode import encode_states
from ida.domains.programs.explore import rollouts, seed_of
from ida.domains.programs.guide import make_guide
from ida.domains.programs.language import Language, Statement, Values
from ida.domains.programs.mcts import mcts
from ida.domains.programs.net import EditNet
from ida.domains.programs.search import (
    NEW,
    Found,
    Node,
    Problem,
    SearchSettings,
    best_first,
    path_to,
)
from ida.domains.programs.simulator import Simulator
from ida.domains.programs.tasks import Task, generate, split_of_program

SEARCHES = {"best_first": best_first, "mcts": mcts}


def problem_of(language: Language, task: Task) -> Problem:
    """The search's view of ``task``: its inputs' and outputs' values on the shown examples."""
    types = task.input_types(language)
    inputs = [
        language.to_values(t, [e.inputs[i] for e in task.examples]) for i, t in enumerate(types)
    ]
    output = language.to_values(
        language.check(task.examples[0].output), [e.output for e in task.examples]
    )
    return Problem(inputs, output)


def solve(
    language: Language,
    net: EditNet,
    tasks: list[Task],
    s: SearchSettings,
    budget: int,
    device: torch.device | str = "cpu",
    seconds: float = float("inf"),
    keep: bool = True,
    concurrent: int = 128,
    max_batch: int = 4096,
    explore: int = 0,
) -> tuple[list[Found], Counter]:
    """Search every task (``concurrent`` at a time, all batched together); the results in
    order, and the counts (simulator calls, net evaluations, seconds). With ``explore``, each
    task also gets that many exploring rollouts of its generator's length (``found.explored``;
    their calls count with the rest)."""
    net.eval()
    guide = make_guide(net, language, s.max_children, device, s.forward_model)
    simulator = Simulator(language)
    counts: Counter = Counter()

    def advise(items):
        counts["net_evals"] += len(items)
        return guide(items)

    results: list[Found] = []
    started = time.perf_counter()
    for start in range(0, len(tasks), concurrent):
        chunk = tasks[start : start + concurrent]
        coros = [
            SEARCHES[s.method](
                problem_of(language, t),
                language,
                s,
                advise,
                simulator.extend,
                budget,
                seconds,
                keep,
            )
            for i, t in enumerate(chunk)
        ]
        if explore:
            coros += [
                rollouts(
                    problem_of(language, t),
                    language,
                    simulator.extend,
                    explore,
                    t.length,
                    seed_of(t),
                )
                for t in chunk
            ]
        done = Engine(max_batch=max_batch).run(coros)
        founds, explored = done[: len(chunk)], done[len(chunk) :]
        for found, ends in zip(founds, explored, strict=False):  # none without ``explore``
            found.explored = ends
        results += founds
    counts["simulator_calls"] += simulator.calls
    counts["search_seconds"] += time.perf_counter() - started
    return results, counts


def to_rows(
    language: Language,
    founds: list[Found],
    rng: np.random.Generator,
    slots: int,
    negatives: int,
    outcomes: int,
    hindsight: int = 0,
    explored: int = 0,
) -> EditRows | None:
    """Distillation rows from finished searches: every step of every found program (policy,
    and value 1), up to ``negatives`` states each search tried off its program's path (value
    0), up to ``outcomes`` simulated edits each (forward model), and up to ``hindsight``
    programs each search ran, found in hindsight: every step of a program with no dead code,
    towards its own last value as the goal (policy, and value 1); up to ``explored`` of its
    exploring rollouts the same way. A search that fails its task still finds those."""
    envs, goals, edits, outcome, label, weights = [], [], [], [], [], []

    def add(env, goal, edit, got, value, w):
        envs.append(env)
        goals.append(goal)
        edits.append(edit)
        outcome.append(got)
        label.append(value)
        weights.append(w)

    for found in founds:
        output = found.goals[0].values  # the task's outputs
        if found.program is not None:
            path = found.path
            on_path = {id(node) for node in path}
            statements = found.program.statements
            for k, node in enumerate(path[: len(statements)]):
                add(node.env, output, statements[k], NEW, 1.0, (1.0, 1.0, 1.0))
                goal = found.goals[node.goal]
                if goal.finish is not None and k < len(path) - 1:  # towards the sub-goal too
                    add(node.env, goal.values, statements[k], NEW, 1.0, (1.0, 1.0, 0.0))
            off = [
                t.child for t in found.tried if t.child is not None and id(t.child) not in on_path
            ]
            for i in rng.permutation(len(off))[:negatives]:
                child: Node = off[i]
                add(
                    child.env,
                    found.goals[child.goal].values,
                    Statement(0, (0,)),
                    NEW,
                    0.0,
                    (0.0, 1.0, 0.0),
                )
        ran = [
            t.child
            for t in found.tried
            if t.child is not None and len(t.child.program) > 1 and all(t.child.program.used())
        ]
        chosen = _hindsight(language, ran, rng, hindsight)
        chosen += _hindsight(language, found.explored, rng, explored)
        for child in chosen:
            goal = child.env[-1]
            for node, statement in zip(path_to(child), child.program.statements, strict=False):
                add(node.env, goal, statement, NEW, 1.0, (1.0, 1.0, 0.0))
        for i in rng.permutation(len(found.tried))[:outcomes]:
            t = found.tried[i]
            edit = t.node.statement(t.rank)
            add(t.node.env, found.goals[t.node.goal].values, edit, t.outcome, 0.0, (0.0, 0.0, 1.0))
    if not envs:
        return None
    states = encode_states(language, envs, goals, slots)
    args = np.full((len(edits), 2), -1, dtype=np.int16)
    for i, e in enumerate(edits):
        args[i, : len(e.args)] = e.args
    w = np.array(weights, dtype=np.float32)
    return EditRows(
        **states.arrays(),
        op=np.array([e.op for e in edits], dtype=np.int16),
        args=args,
        outcome=np.array(outcome, dtype=np.int8),
        label=np.array(label, dtype=np.float32),
        w_policy=w[:, 0],
        w_value=w[:, 1],
        w_forward=w[:, 2],
    )


def _hindsight(
    language: Language, ran: list[Node], rng: np.random.Generator, most: int
) -> list[Node]:
    """Up to ``most`` of the states ``ran``, at random, whose programs the generator could have
    drawn for training: an output that is not the same on every example and a behaviour in the
    training split (a held-out program is never distilled, not even in hindsight)."""
    chosen: list[Node] = []
    for i in rng.permutation(len(ran)):
        if len(chosen) == most:
            break
        child = ran[i]
        if _constant(child.env[-1]) or split_of_program(language, child.program) != "train":
            continue
        chosen.append(child)
    return chosen


def _constant(values: Values) -> bool:
    """Whether ``values`` is the same on every example (of several)."""
    same = (values.data == values.data[:1]).all()
    if values.lengths is not None:
        same = same and (values.lengths == values.lengths[0]).all()
    return len(values) > 1 and bool(same)


class ProgramSearch:
    """The programs domain's amplifier: ``tasks`` generated tasks a round, lengths drawn by a
    curriculum over 1..``max_length`` (the next length opens when the searches solve
    ``advance_at`` of the current one), each searched within ``budget`` calls."""

    def __init__(
        self,
        language: Language,
        search: SearchSettings,
        tasks: int,
        budget: int,
        max_length: int,
        slots: int,
        advance_at: float = 0.5,
        negatives: int = 8,
        outcomes: int = 16,
        hindsight: int = 0,
        device: torch.device | str = "cpu",
        explore: int = 0,
    ):
        self.language, self.search, self.tasks, self.budget = language, search, tasks, budget
        self.slots, self.negatives, self.outcomes, self.device = slots, negatives, outcomes, device
        self.hindsight, self.explore = hindsight, explore
        self.curriculum = Curriculum(max_length, advance_at, min_samples=tasks, focus=0.5)
        self.counts: Counter = Counter()

    def propose(self, rng: np.random.Generator) -> list[Task]:
        lengths = self.curriculum.sample(rng, self.tasks) + 1
        return [generate(self.language, int(n), rng, split="train") for n in lengths]

    def expand(self, teacher: EditNet, work: list[Task]) -> tuple[list[Found], Counter]:
        """Search the round's tasks with ``teacher`` (pure: nothing of ``self`` changes)."""
        return solve(
            self.language,
            teacher,
            work,
            self.search,
            self.budget,
            self.device,
            explore=self.explore,
        )

    def split(self, work: list[Task], parts: int) -> list[list[Task]]:
        """The round's tasks in ``parts`` runs: each is searched on its own."""
        return split_items(work, parts)

    def merge(self, work, expanded: list[tuple[list[Found], Counter]]):
        return merge_counted(expanded)

    def absorb(self, work: list[Task], trees: tuple[list[Found], Counter], rng) -> EditRows | None:
        founds, counts = trees
        self.counts.update(counts)
        solved = np.array([f.program is not None for f in founds])
        lengths = np.array([t.length for t in work])
        self.counts["rounds"] += 1
        self.counts["tasks"] += len(work)
        self.counts["solved"] += int(solved.sum())
        self.curriculum.update(lengths - 1, solved)
        return to_rows(
            self.language,
            founds,
            rng,
            self.slots,
            self.negatives,
            self.outcomes,
            self.hindsight,
            self.explore,
        )

    def state_dict(self) -> dict:
        return {"counts": dict(self.counts), "curriculum": self.curriculum.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.counts.clear()
        self.counts.update(state["counts"])
        self.curriculum.load_state_dict(state["curriculum"])
