"""Amplify(H, A) by question decomposition: H splits a question, A answers the pieces.

Each root question goes to the overseer H. Every subquestion H asks goes to the model A
(the paper's one-step scheme, ``depth=1``) or, while the tree is shallower than ``depth``, to H
again; with no model at all (``answer=None``) H recurses all the way down, which is HCH and is
what ``A <- Distill(H)`` imitates. Every node is recorded in a ``trace.Node`` tree. The
overseer may be a stand-in for H (its learned imitation, ``by=IMITATION``), whose nodes cost
no call to H.
"""

from __future__ import annotations

from collections.abc import Sequence

from ida.amplify.base import TargetSource
from ida.engine import BatchFn, Call, Engine, Spawn
from ida.models.qa import BatchedAnswerer
from ida.overseers import Overseer
from ida.tasks.base import Instance, Question, Task
from ida.trace import LOOKUP, MODEL, OVERSEER, Node


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
        self.overseer = overseer or task.overseer

    def run(
        self,
        instances: Sequence[Instance],
        roots: Sequence[tuple[int, Question]],
        answer: BatchFn | None,
    ) -> list[Node]:
        """One tree per root (instance slot, question); ``answer`` is A as a batch function."""
        tree = Tree(self.overseer, instances, answer, self.depth, self.by)
        return self.engine.run([tree.overseer(slot, q, 0) for slot, q in roots])


class Tree:
    """Trees of ``overseer`` over ``instances``: ``overseer(slot, question, depth)`` builds one."""

    def __init__(self, overseer: Overseer, instances, answer: BatchFn | None, depth: int, by: str):
        self.h, self.instances, self.answer, self.depth = overseer, instances, answer, depth
        self.by = by  # who the overseer is: H (OVERSEER), or its learned imitation

    async def overseer(self, slot: int, question: Question, depth: int) -> Node:
        node = Node(question, by=self.by, depth=depth)
        ask = _Ask(self, slot, node)
        node.answer = await self.h(self.instances[slot], question, ask)
        if not node.children and self.by == OVERSEER:
            node.by = LOOKUP
        return node


class _Ask:
    """The ``ask`` an overseer sees: routes subquestions to A or to H and records them."""

    __slots__ = ("tree", "slot", "node")

    def __init__(self, tree: Tree, slot: int, node: Node):
        self.tree, self.slot, self.node = tree, slot, node

    async def __call__(self, question: Question) -> int:
        return (await self.all([question]))[0]

    async def all(self, questions: Sequence[Question]) -> list[int]:
        tree, depth = self.tree, self.node.depth + 1
        if tree.answer is None or depth < tree.depth:
            kids = await Spawn([tree.overseer(self.slot, q, depth) for q in questions])
        else:
            answers = await Call(tree.answer, [(self.slot, q) for q in questions])
            kids = [Node(q, a, MODEL, depth) for q, a in zip(questions, answers, strict=True)]
        self.node.children.extend(kids)
        return [kid.answer for kid in kids]


class Amplifier(TargetSource):
    """Amplify(H, A) as a target source: H decomposes, the teacher copy of A answers.

    With ``use_model=False`` H answers every node itself (HCH), which is ``A <- Distill(H)``.
    With a demonstrating ``overseer`` other than the task's own H (``ida.overseers``), the
    approval of answers comes from a second tree, decomposed by the exact H, unless
    ``exact_judge`` is off (imitation uses no approval); both trees are counted."""

    def __init__(
        self,
        *args,
        engine: Engine,
        depth: int = 1,
        overseer: Overseer | None = None,
        exact_judge: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.decomposition = Decomposition(self.task, engine, depth, overseer)
        judge = overseer is not None and exact_judge
        self.judge = Decomposition(self.task, engine, depth) if judge else None
        self.use_model = True

    def _answers(self, decomposition, insts, roots, teacher) -> list[int]:
        trees = decomposition.run(insts, roots, teacher if self.use_model else None)
        self.count(trees)
        return [tree.answer for tree in trees]

    def targets(
        self, insts: list[Instance], roots: list[tuple[int, Question]], teacher: BatchedAnswerer
    ) -> list[int]:
        return self._answers(self.decomposition, insts, roots, teacher)

    def references(self, insts, roots, teacher, targets):
        if self.judge is None:
            return targets
        return self._answers(self.judge, insts, roots, teacher)
