"""Amplify(H, A) by question decomposition: H splits a question, A answers the pieces.

Each root question goes to the overseer H. Every subquestion H asks goes to the model A
(the paper's one-step scheme, ``depth=1``) or, while the tree is shallower than ``depth``, to H
again; with no model at all (``answer=None``) H recurses all the way down, which is HCH and is
what ``A <- Distill(H)`` imitates. Every node is recorded in a ``trace.Node`` tree. The
overseer may be a stand-in for H (the learned overseer H', ``by=LEARNED``), whose nodes cost
no call to H.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ida.core.engine import BatchFn, Call, Engine, Spawn
from ida.domains.qa.amplify.base import Roots, Round, TargetAmplifier, tree_counts
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.overseers.demonstrators import Overseer
from ida.domains.qa.tasks.base import Instance, Question, Task
from ida.domains.qa.trace import LOOKUP, MODEL, OVERSEER, Node


class Decomposition:
    """Runs H's decomposition over many (instance, question) roots at once in the engine."""

    def __init__(
        self,
        task: Task,
        engine: Engine,
        depth: int = 1,
        overseer: Overseer | None = None,
        by: str = OVERSEER,
    ):
        if depth < 1:
            raise ValueError("amplification depth must be at least 1")
        self.task, self.engine, self.depth, self.by = task, engine, depth, by
        self.h = overseer or task.overseer

    def run(
        self, instances: Sequence[Instance], roots: Roots, answer: BatchFn | None
    ) -> list[Node]:
        """One tree per root (instance slot, question); ``answer`` is A as a batch function."""
        grower = Grower(self.h, instances, answer, self.depth, self.by)
        return self.engine.run([grower.grow(slot, q, 0) for slot, q in roots])

    def tree(self, inst: Instance, question: Question, answer: BatchFn | None) -> Node:
        """The one tree for ``question`` about ``inst`` (slot 0 of ``answer``)."""
        return self.run([inst], [(0, question)], answer)[0]


class Grower:
    """Grows trees of the overseer ``h`` over ``instances``, one per ``grow(slot, question)``."""

    def __init__(self, h: Overseer, instances, answer: BatchFn | None, depth: int, by: str):
        self.h, self.instances, self.answer, self.depth = h, instances, answer, depth
        self.by = by  # who the overseer is: H (OVERSEER), or the learned overseer H' (LEARNED)

    async def grow(self, slot: int, question: Question, depth: int) -> Node:
        node = Node(question, by=self.by, depth=depth)
        ask = _Ask(self, slot, node)
        node.answer = await self.h(self.instances[slot], question, ask)
        if not node.children and self.by == OVERSEER:
            node.by = LOOKUP
        return node


class _Ask:
    """The ``ask`` an overseer sees: routes subquestions to A or to H and records them."""

    __slots__ = ("grower", "slot", "node")

    def __init__(self, grower: Grower, slot: int, node: Node):
        self.grower, self.slot, self.node = grower, slot, node

    async def __call__(self, question: Question) -> int:
        return (await self.all([question]))[0]

    async def all(self, questions: Sequence[Question]) -> list[int]:
        grower, depth = self.grower, self.node.depth + 1
        if grower.answer is None or depth < grower.depth:
            kids = await Spawn([grower.grow(self.slot, q, depth) for q in questions])
        else:
            answers = await Call(grower.answer, [(self.slot, q) for q in questions])
            kids = [Node(q, a, MODEL, depth) for q, a in zip(questions, answers, strict=True)]
        self.node.children.extend(kids)
        return [kid.answer for kid in kids]


class DecompositionAmplifier(TargetAmplifier):
    """Amplify(H, A) as a target source: H decomposes, the teacher copy of A answers.

    With ``use_model=False`` H answers every node itself (HCH), which is ``A <- Distill(H)``.
    With a demonstrating ``overseer`` other than the task's own H (``ida.domains.qa.overseers``),
    the approval of answers comes from a second tree, decomposed by the exact H, unless
    ``exact_judge`` is off (imitation uses no approval); both trees are counted."""

    def __init__(
        self,
        *args,
        engine: Engine,
        depth: int = 1,
        overseer: Overseer | None = None,
        exact_judge: bool = True,
        use_model: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.decomposition = Decomposition(self.task, engine, depth, overseer)
        judge = overseer is not None and exact_judge
        self.judge = Decomposition(self.task, engine, depth) if judge else None
        self.use_model = use_model

    def answers(
        self, decomposition: Decomposition, work: Round, roots: Roots, teacher: BatchedAnswerer
    ) -> tuple[list[int], Counter]:
        """The roots' answers by ``decomposition``'s trees, and who answered how often."""
        trees = decomposition.run(work.insts, roots, teacher if self.use_model else None)
        return [tree.answer for tree in trees], tree_counts(trees)

    def explain(self, inst, question, answerer, rng):
        return self.decomposition.tree(inst, question, answerer)

    def targets(self, work, roots, teacher, extra):
        return self.answers(self.decomposition, work, roots, teacher)

    def references(self, work, roots, teacher, targets):
        if self.judge is None:
            return targets, Counter()
        return self.answers(self.judge, work, roots, teacher)
