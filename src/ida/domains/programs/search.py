"""Search over edits: the amplifier of program induction.

A search grows straight-line programs one statement at a time (the edit: append a statement
whose arguments are earlier variables). Every candidate is executed by the simulator, so the
search sees each partial program's values on the examples against the goal; that simulator
call is the domain's overseer call, and the budget is counted in them.

Best-first search, over all the searches in flight at once: each search is a coroutine that
awaits ``Call(guide, states)`` (the net's advice on new states) and ``Call(simulate, edits)``
(the simulator), and the engine answers every search's requests in one batch.

- A state's children are its candidate edits, in the policy's order; the search keeps one
  pointer per expanded state (its next untried edit), so the frontier costs one heap entry per
  state, and pops the best ``pops`` edits of the whole frontier per round trip.
- Priority: the path's log-probability under the policy, plus ``value_weight`` times the log
  of the state's value (the world model's similarity metric) where ``similarity`` is on.
- The forward model (``forward_model``) predicts, before the call, whether an edit's value will
  be invalid or one the state already has; an edit it gives less than ``forward_threshold`` of
  being new is skipped without a call.
- Sub-goals (``subgoals`` > 0): where the last statement of a program may be an invertible op
  (``Language.inverse``), the value before it is a sub-goal; the search also runs towards the
  ``subgoals`` sub-goals the similarity metric finds nearest, and a state that reaches one is
  finished with that op (one more call, to check). Goal and sub-goals share one frontier.
- Observational equivalence: a new value equal to one of the state's variables, or a state
  whose set of values another state of the same search already has, is dropped.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ida.core.engine import BatchFn, Call
from ida.domains.programs.guide import Advice
from ida.domains.programs.language import Language, Program, Statement, Values
from ida.domains.programs.simulator import same

INVALID, REPEAT, NEW = 0, 1, 2  # what simulating an edit gave


class SearchSettings(BaseModel):
    """How one task's search runs; the three world-model parts switch on and off alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: int = Field(8, ge=1, description="statements a program may have")
    max_children: int = Field(96, ge=1, description="edits considered per state")
    pops: int = Field(8, ge=1, description="edits simulated per search per round trip")
    similarity: bool = Field(True, description="world model: the value orders the search")
    value_weight: float = Field(1.0, ge=0, description="weight of log value in the priority")
    forward_model: bool = Field(True, description="world model: skip edits it calls useless")
    forward_threshold: float = Field(0.05, ge=0, le=1)
    subgoals: int = Field(1, ge=0, description="world model: sub-goals searched too (0: off)")
    method: Literal["best_first", "mcts"] = Field("best_first", description="the search")
    c_puct: float = Field(1.0, gt=0, description="mcts: weight of the prior")


@dataclass
class Problem:
    """One task as the search sees it: the inputs' and outputs' values on the examples."""

    inputs: list[Values]
    output: Values


@dataclass(eq=False)
class Node:
    """A partial program and its values, searched towards goal ``goal`` of the search."""

    program: Program
    env: list[Values]
    goal: int
    logp: float = 0.0
    parent: Node | None = None
    advice: Advice | None = None
    rank: int = 0  # the next untried edit in ``advice``

    def statement(self, rank: int) -> Statement:
        a, b = self.advice.args[rank].tolist()
        return Statement(int(self.advice.ops[rank]), (a,) if b < 0 else (a, b))


@dataclass
class Goal:
    """What a state is searched towards: the task's outputs, or a sub-goal with the op
    (``finish``) that turns it into the outputs."""

    values: Values
    finish: int | None = None


@dataclass
class Tried:
    """One simulated edit, kept for distillation and ``ida show``."""

    node: Node
    rank: int
    outcome: int
    child: Node | None = None


@dataclass
class Found:
    """What a search did: the program (None if not found), its calls, and what it tried."""

    program: Program | None
    calls: int
    seconds: float
    path: list[Node] = field(default_factory=list)
    tried: list[Tried] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    skipped: int = 0
    explored: list[Node] = field(default_factory=list)  # exploring rollouts (training only)


def outcome_of(value: Values | None, env: list[Values]) -> int:
    """What simulating an edit gave: INVALID (None), REPEAT (a value ``env`` has) or NEW."""
    if value is None:
        return INVALID
    return REPEAT if any(value.key() == x.key() for x in env) else NEW


def signature(env: list[Values], goal: int) -> Hashable:
    """The set of a state's values (and its goal): states with equal signatures are one."""
    return goal, frozenset(v.key() for v in env)


def priority(node: Node, rank: int, s: SearchSettings) -> float:
    advice = node.advice
    value = max(advice.value, 1e-6) if s.similarity else 1.0
    return -(node.logp + float(advice.logp[rank]) + s.value_weight * math.log(value))


class _Frontier:
    """The pointers to every expanded state's next untried edit, best first."""

    def __init__(self, s: SearchSettings):
        self.s, self.heap, self.count = s, [], 0

    def push(self, node: Node) -> None:
        if node.rank < len(node.advice):
            self.count += 1
            heapq.heappush(self.heap, (priority(node, node.rank, self.s), self.count, node))

    def pop(self) -> tuple[Node, int]:
        node = heapq.heappop(self.heap)[2]
        rank, node.rank = node.rank, node.rank + 1
        self.push(node)
        return node, rank

    def __bool__(self) -> bool:
        return bool(self.heap)


class SearchState:
    """What one task's search keeps, whatever its method: the goals, the calls made, the
    states seen, the programs simulated (shared by the goals) and what was found."""

    def __init__(self, problem, language, s, guide, simulate, budget, seconds, keep):
        self.problem, self.language, self.s = problem, language, s
        self.guide, self.simulate, self.budget, self.keep = guide, simulate, budget, keep
        self.started = time.perf_counter()
        self.deadline = self.started + seconds
        self.found = Found(None, 0, 0.0, goals=[Goal(problem.output)])
        self.seen: set = set()
        self.memo: dict[tuple, Values | None] = {}  # program -> its last value

    def running(self) -> bool:
        return (
            self.found.program is None
            and self.found.calls < self.budget
            and time.perf_counter() < self.deadline
        )

    async def roots(self) -> list[Node]:
        """A root per goal, advised: the outputs, and the ``subgoals`` sub-goals the
        similarity metric finds nearest."""
        found, problem = self.found, self.problem
        if self.s.subgoals:
            found.goals += [Goal(v, op) for op, v in _inversions(self.language, problem.output)]
        types = Program(tuple(v.type for v in problem.inputs))
        roots = [Node(types, problem.inputs, g) for g in range(len(found.goals))]
        await self.advise(roots)
        if len(roots) > 1:
            ranked = sorted(roots[1:], key=lambda n: -n.advice.value)
            roots = [roots[0], *ranked[: self.s.subgoals]]
        self.seen = {signature(problem.inputs, node.goal) for node in roots}
        return roots

    async def advise(self, nodes: list[Node]) -> None:
        if nodes:
            items = [(n.env, self.found.goals[n.goal].values) for n in nodes]
            for node, advice in zip(nodes, await Call(self.guide, items), strict=True):
                node.advice = advice

    def useful(self, batch: list[tuple[Node, int]]) -> list[bool]:
        """Which edits the forward model finds worth a call (all, where it is off)."""
        s = self.s
        if not s.forward_model:
            return [True] * len(batch)
        keep = [node.advice.new[rank] >= s.forward_threshold for node, rank in batch]
        self.found.skipped += len(batch) - int(sum(keep))
        return keep

    async def attempt(self, batch: list[tuple[Node, int]]) -> list[Node | None]:
        """Simulate the edits of ``batch``: per edit its new state, or None (invalid, a value
        the state has, a state seen before, or too long to grow). Sets ``found.program`` when
        one reaches its goal (and stops there)."""
        s, found = self.s, self.found
        values = await _simulate(batch, self.simulate, self.memo, found)
        out: list[Node | None] = []
        for (node, rank), (program, value) in zip(batch, values, strict=True):
            out.append(None)
            outcome = outcome_of(value, node.env)
            tried = Tried(node, rank, outcome)
            if self.keep:
                found.tried.append(tried)
            if outcome != NEW:
                continue
            env = [*node.env, value]
            key = signature(env, node.goal)
            if key in self.seen:
                continue
            self.seen.add(key)
            logp = node.logp + float(node.advice.logp[rank])
            child = Node(program, env, node.goal, logp, node)
            tried.child = child
            goal = found.goals[node.goal]
            # finishing at a sub-goal appends a statement, checked by a call: both must fit
            room = goal.finish is None or (
                len(program) < s.max_length and found.calls < self.budget
            )
            if room and value.key() == goal.values.key():
                finished = await _finish(child, goal, self.problem, self.simulate, found)
                if finished is not None:
                    found.program, found.path = finished, path_to(child)
                    return out
            if len(program) < s.max_length:
                out[-1] = child
        return out

    def done(self) -> Found:
        self.found.seconds = time.perf_counter() - self.started
        return self.found


async def best_first(
    problem: Problem,
    language: Language,
    s: SearchSettings,
    guide: BatchFn,
    simulate: BatchFn,
    budget: int,
    seconds: float = math.inf,
    keep: bool = True,
) -> Found:
    """Search for a program mapping ``problem``'s inputs to its outputs within ``budget``
    simulator calls (and ``seconds``), best first; ``keep``: record every tried edit."""
    search = SearchState(problem, language, s, guide, simulate, budget, seconds, keep)
    frontier = _Frontier(s)
    for node in await search.roots():
        frontier.push(node)
    while frontier and search.running():
        room = budget - search.found.calls
        batch = [frontier.pop() for _ in range(min(s.pops, room)) if frontier]
        batch = [b for b, ok in zip(batch, search.useful(batch), strict=True) if ok]
        if not batch:
            continue
        children = [c for c in await search.attempt(batch) if c is not None]
        if search.found.program is not None:
            break
        await search.advise(children)
        for child in children:
            frontier.push(child)
    return search.done()


async def _simulate(
    batch: list[tuple[Node, int]], simulate: BatchFn, memo: dict, found: Found
) -> list[tuple[Program, Values | None]]:
    """The program each edit in ``batch`` makes and its new value; a program simulated before
    (towards another goal) costs no call."""
    programs = [node.program.then(node.statement(rank)) for node, rank in batch]
    missing = {
        p.statements: (node, p.statements[-1])
        for p, (node, _) in zip(programs, batch, strict=True)
        if p.statements not in memo
    }
    if missing:
        items = [(node.env, statement) for node, statement in missing.values()]
        for p, value in zip(missing, await Call(simulate, items), strict=True):
            memo[p] = value
        found.calls += len(missing)
    return [(p, memo[p.statements]) for p in programs]


async def _finish(
    child: Node, goal: Goal, problem: Problem, simulate: BatchFn, found: Found
) -> Program | None:
    """The program that reaches the task's outputs from ``child``, which reached ``goal``:
    itself, or with the sub-goal's op appended (checked by one more call)."""
    if goal.finish is None:
        return child.program
    last = Statement(goal.finish, (len(child.env) - 1,))
    (value,) = await Call(simulate, [(child.env, last)])
    found.calls += 1
    return child.program.then(last) if value is not None and same(value, problem.output) else None


def path_to(node: Node) -> list[Node]:
    """The states from the root down to ``node``."""
    path = []
    while node is not None:
        path.append(node)
        node = node.parent
    return path[::-1]


def _inversions(language: Language, output: Values) -> list[tuple[int, Values]]:
    """Every (op, value) such that op applied to value gives ``output``, where the language
    knows the op's inverse."""
    found = []
    for op in range(len(language.ops)):
        value = language.inverse(op, output)
        if value is not None and not same(value, output):
            found.append((op, value))
    return found
