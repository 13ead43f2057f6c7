"""Auditing: unfold a model's own tree and inspect its nodes in the order the adversary ranks
them as suspect (the seed's transparency claim).

``unfold`` builds the model's tree for a question: every node holds the model's own answer, and
its children are the subquestions H's fan-out/fan-in asks given the model's answers to them.
``inspection_order`` lists the nodes as an auditor would look at them:

* ``"bfs"``: breadth-first from the root, the baseline (an error is found after O(n) nodes);
* ``"adversary"``: best-first from the root: inspect the most suspect node seen so far (lowest
  score), then add its children. With an adversary that scores wrong answers low, the search
  walks down the wrong path, so an error is found after O(depth) = O(log n) nodes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np
import torch

from ida.core.engine import BatchFn, Call, Engine, Spawn
from ida.domains.qa.adversary import AdversaryScorer, UncertaintyScorer
from ida.domains.qa.models.answerer import BatchedAnswerer
from ida.domains.qa.tasks.base import Instance, Question, Task
from ida.domains.qa.trace import MODEL, Node


def unfold(
    task: Task,
    insts: list[Instance],
    roots: list[tuple[int, Question]],
    answer: BatchFn,
    max_nodes: int = 4096,
) -> list[Node]:
    """The model's own tree for each (instance slot, question) root; ``answer`` is the model
    as a batch function. Each node's ``guess`` is what H would answer from its children's
    answers (None for lookups), so ``node.guess != node.answer`` marks an inconsistent step."""
    left = [max_nodes]

    async def grow(slot: int, question: Question, depth: int) -> Node:
        left[0] -= 1
        inst = insts[slot]
        (answer_,) = await Call(answer, [(slot, question)])
        node = Node(question, int(answer_), MODEL, depth)
        step = task.fan_out(inst, question)
        while isinstance(step, tuple) and left[0] > 0:
            kids = await Spawn([grow(slot, q, depth + 1) for q in step])
            node.children.extend(kids)
            step = task.fan_in(inst, question, tuple((k.question, k.answer) for k in kids))
        node.guess = int(step) if not isinstance(step, tuple) else None
        if not node.children:
            node.guess = None
        return node

    return Engine().run([grow(slot, q, 0) for slot, q in roots])


def inspection_order(root: Node, score: Callable[[Node], float], order: str) -> list[Node]:
    """Every node of ``root``'s tree in the order an auditor inspects them (see the module)."""
    if order == "bfs":
        out, queue = [], [root]
        while queue:
            out.extend(queue)
            queue = [kid for node in queue for kid in node.children]
        return out
    if order != "adversary":
        raise ValueError(f"unknown order {order!r}")
    out, tie = [], 0
    heap = [(score(root), tie, root)]
    while heap:
        _, _, node = heapq.heappop(heap)
        out.append(node)
        for kid in node.children:
            tie += 1
            heapq.heappush(heap, (score(kid), tie, kid))
    return out


def inject_error(task: Task, inst: Instance, root: Node, rng: np.random.Generator) -> Node | None:
    """Make one random node's answer wrong, such that the error flows up and changes the root's
    answer: ancestors are recomputed from their children by H's fan-in. Returns that node (None
    if no single wrong answer changes the root; the tree is then left as it was)."""
    nodes = list(root.walk())
    before = [n.answer for n in nodes]
    for index in rng.permutation(len(nodes)):
        target = nodes[index]
        for shift in 1 + rng.permutation(task.answer_size - 1):
            target.answer = (before[index] + int(shift)) % task.answer_size
            _recompose(task, inst, root, target)
            if root.answer != before[0]:
                return target
            for node, answer in zip(nodes, before, strict=True):
                node.answer = answer
    return None


def _recompose(task: Task, inst: Instance, node: Node, wrong: Node) -> None:
    """Bottom-up: an internal node's answer (except ``wrong``'s) becomes what H gives from its
    children's answers (where H's fan-ins still ask the same subquestions)."""
    for kid in node.children:
        _recompose(task, inst, kid, wrong)
    if not node.children or node is wrong:
        return
    step = task.fan_out(inst, node.question)
    kids = iter(node.children)
    while isinstance(step, tuple):
        answered = []
        for q in step:
            kid = next(kids, None)
            if kid is None or kid.question != q:
                return  # the new answers change H's later subquestions: keep the node
            answered.append((q, kid.answer))
        step = task.fan_in(inst, node.question, tuple(answered))
    node.answer = int(step)


def score_nodes(job, insts: list[Instance], trees: list[Node], slots: list[int]) -> str:
    """Set every node's ``score``: Adv(Q, A) with the run's adversary, else the model's own
    confidence (-entropy). Returns which was used."""
    facts = torch.from_numpy(np.stack([inst.facts for inst in insts])).to(job.device)
    if job.adversary is not None:
        scorer, used = AdversaryScorer(job.adversary, facts), "adversary"
    else:
        scorer, used = UncertaintyScorer(BatchedAnswerer(job.answerer, facts)), "uncertainty"
    nodes = [(slot, node) for slot, tree in zip(slots, trees, strict=True) for node in tree.walk()]
    scores = scorer([(slot, node.question, node.answer) for slot, node in nodes])
    for (_, node), s in zip(nodes, scores, strict=True):
        node.score = float(s)
    return used
