"""The smallest complete task: sums of ranges of a list, modulo m.

Facts are (i, a_i); the question (i, j) asks for (a_i + ... + a_{j-1}) mod m. H looks up a
single element directly, and otherwise splits the range in half and adds the two answers.
Run it with:  python examples/range_sum.py
"""

import numpy as np

from ida.domains.qa.tasks import Task, register
from ida.domains.qa.tasks.base import Instance

M = 10  # answers are sums modulo M


@register
class RangeSum(Task):
    name = "range_sum"
    description = "facts (i, a_i); question (i, j) -> (a_i + ... + a_{j-1}) mod 10"

    def __init__(self, size=None):
        super().__init__(size)
        n = self.size
        # tokens: 0 PAD, 1..n+1 positions 0..n, n+2..n+1+M the values 0..M-1
        self.vocab_size, self.answer_size = n + 2 + M, M
        self.num_facts, self.fact_len, self.question_len = n, 2, 2
        self.num_levels = int(np.ceil(np.log2(n))) + 1

    def sample_instance(self, rng):
        values = rng.integers(0, M, size=self.size)
        order = rng.permutation(self.size)
        facts = np.stack([order + 1, values[order] + self.size + 2], axis=1)
        return Instance(facts=facts, data=values)

    def level_of(self, inst, question):
        i, j = question[0] - 1, question[1] - 1
        return int(np.ceil(np.log2(j - i)))

    def sample_question(self, rng, inst, level):
        length = 1 if level == 0 else int(rng.integers(2 ** (level - 1) + 1, 2**level + 1))
        length = min(length, self.size)
        i = int(rng.integers(0, self.size - length + 1))
        return (i + 1, i + length + 1)

    async def overseer(self, inst, question, ask):
        i, j = question[0] - 1, question[1] - 1
        if j - i == 1:
            return int(inst.data[i])  # one lookup
        mid = (i + j) // 2
        left, right = await ask.all([(i + 1, mid + 1), (mid + 1, j + 1)])
        return (left + right) % M

    def solve(self, inst, question):
        i, j = question[0] - 1, question[1] - 1
        return int(inst.data[i:j].sum() % M)


if __name__ == "__main__":
    from ida.core.runs.run import train
    from ida.domains.qa.config import qa_config

    print(train(qa_config(task="range_sum", size=8, steps=600), "runs/range_sum"))
