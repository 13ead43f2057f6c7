"""The engine batches concurrent calls and returns each answer to the coroutine that asked."""

from ida.core.engine import Call, Engine, Spawn


class Recorder:
    """A batch function that doubles its items and records every batch it was given."""

    def __init__(self):
        self.batches = []

    def __call__(self, items):
        self.batches.append(list(items))
        return [2 * x for x in items]


async def chain(fn, start, hops):
    x = start
    for _ in range(hops):
        (x,) = await Call(fn, [x])
    return x


def test_concurrent_calls_share_one_batch_per_round():
    fn = Recorder()
    engine = Engine()
    results = engine.run([chain(fn, i, 3) for i in range(100)])
    assert results == [8 * i for i in range(100)]
    assert [len(b) for b in fn.batches] == [100, 100, 100]
    assert engine.stats.batches == 3 and engine.stats.items == 300


def test_each_answer_returns_to_its_own_tree():
    fn = Recorder()
    # trees of different lengths finish at different rounds; answers must not get mixed up
    results = Engine().run([chain(fn, i, i % 5) for i in range(50)])
    assert results == [i * 2 ** (i % 5) for i in range(50)]


def test_max_batch_splits_calls():
    fn = Recorder()
    engine = Engine(max_batch=7)
    assert engine.run([chain(fn, i, 1) for i in range(20)]) == [2 * i for i in range(20)]
    assert [len(b) for b in fn.batches] == [7, 7, 6]


def test_spawn_runs_children_and_returns_results_in_order():
    fn = Recorder()

    async def parent(i):
        kids = await Spawn([chain(fn, i, 1), chain(fn, i + 1, 2), chain(fn, i + 2, 0)])
        empty = await Spawn([])
        return kids, empty

    results = Engine().run([parent(10 * i) for i in range(4)])
    assert results == [([2 * 10 * i, 4 * (10 * i + 1), 10 * i + 2], []) for i in range(4)]
    # children of all parents are batched together: 8 first-hop calls, then 4 second hops
    assert [len(b) for b in fn.batches] == [8, 4]


def test_multi_item_calls_are_split_back():
    fn = Recorder()

    async def many(i):
        return await Call(fn, [i, i + 1, i + 2])

    assert Engine().run([many(0), many(10)]) == [[0, 2, 4], [20, 22, 24]]
    assert fn.batches == [[0, 1, 2, 10, 11, 12]]
