"""The engine batches concurrent calls, returns each answer to the coroutine that asked, and parks
coroutines on answers from outside until they are delivered."""

import sys
import threading
import time
from contextlib import contextmanager

import pytest

from ida.core.engine import Call, Engine, Outside, Spawn, Staged


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


async def outside(ticket):
    return await Outside(ticket)


@contextmanager
def watchdog(engine, ticket, seconds=5.0):
    """Deliver a wrong answer to ``ticket`` after ``seconds``, so that a test whose answer never
    comes fails instead of hanging."""
    timer = threading.Timer(seconds, engine.deliver, args=(ticket, "watchdog"))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def test_a_parked_coroutine_waits_while_the_others_run_to_completion_and_batch():
    """A coroutine awaiting ``Outside`` holds nobody up: the others finish in full batches, and
    only then does the engine wait (calling ``idle``), until the answer is delivered."""
    fn = Recorder()
    engine = Engine(wait=0.001)
    batches_when_idle = []

    def idle():
        batches_when_idle.append([len(b) for b in fn.batches])
        engine.deliver("human", 42)

    engine.idle = idle
    with watchdog(engine, "human"):
        results = engine.run([chain(fn, i, 2) for i in range(5)] + [outside("human")])
    assert results == [4 * i for i in range(5)] + [42]
    assert [len(b) for b in fn.batches] == [5, 5]
    assert batches_when_idle == [[5, 5]]  # waited once, with every other coroutine done
    assert engine.stats.parked == 1


def test_deliver_from_another_thread_resumes_each_parked_coroutine_with_its_answer():
    """Answers delivered from another thread, in any order, reach the coroutines parked on their
    tickets, which then go on (their next calls batched together)."""
    fn = Recorder()
    start = time.monotonic()

    def give_up():
        if time.monotonic() - start > 10:
            pytest.fail("the delivered answers never reached their coroutines")

    engine = Engine(wait=0.001, idle=give_up)

    async def ask_then_double(ticket):
        answer = await Outside(ticket)
        (doubled,) = await Call(fn, [answer])
        return doubled

    def deliverer():
        deadline = time.monotonic() + 10
        while engine.stats.parked < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        for ticket in ("c", "a", "b"):
            engine.deliver(ticket, ord(ticket))

    thread = threading.Thread(target=deliverer)
    thread.start()
    results = engine.run([ask_then_double(t) for t in ("a", "b", "c")])
    thread.join()
    assert results == [2 * ord(t) for t in ("a", "b", "c")]
    assert engine.stats.parked == 3
    assert sum(len(b) for b in fn.batches) == 3  # every resumed coroutine made its call


def test_answers_delivered_before_their_ticket_is_awaited_are_kept():
    """An answer delivered early (before ``run``, or before the coroutine reaches its ticket)
    is handed over when the ticket is awaited, without any waiting."""
    engine = Engine(wait=0.001, idle=lambda: pytest.fail("waited for an answer already given"))

    async def two_tickets():
        return await Outside("first"), await Outside("second")

    engine.deliver("second", 2)  # arrives before "first", while only "first" is awaited
    engine.deliver("first", 1)
    assert engine.run([two_tickets()]) == [(1, 2)]
    engine.deliver("later", "kept between runs")
    assert engine.run([outside("later")]) == ["kept between runs"]


def test_idle_is_called_every_wait_until_an_answer_arrives():
    """While everything is parked, ``idle`` runs once per ``wait`` seconds with no delivery
    (where a caller polls a database, say); a delivery there ends the wait."""
    calls = []
    engine = Engine(wait=0.01)

    def idle():
        calls.append(time.monotonic())
        if len(calls) == 3:
            engine.deliver("t", "done")

    engine.idle = idle
    start = time.monotonic()
    with watchdog(engine, "t"):
        assert engine.run([outside("t")]) == ["done"]
    assert len(calls) == 3
    assert calls[0] - start >= 0.01 * 0.9 and calls[2] - calls[0] >= 2 * 0.01 * 0.9


def test_a_ticket_awaited_twice_is_an_error():
    """Two coroutines parked on one ticket could not both get its answer: the second errs."""
    engine = Engine(wait=0.001, idle=lambda: pytest.fail("should not wait"))
    with pytest.raises(ValueError, match="'same' awaited twice"):
        engine.run([outside("same"), outside("same")])


def test_awaiting_anything_else_is_an_error():
    """The engine answers only ``Call``, ``Spawn`` and ``Outside``."""

    class Stray:
        def __await__(self):
            return (yield "stray")

    async def strays():
        return await Stray()

    with pytest.raises(TypeError, match="engine cannot await 'stray'"):
        Engine().run([strays()])


def test_a_coroutine_that_handles_the_twice_awaited_error_goes_on():
    """The error is raised inside the coroutine, so one that catches it goes on like any other."""

    async def falls_back(ticket):
        try:
            return await Outside(ticket)
        except ValueError:
            (x,) = await Call(Recorder(), [3])
            return x

    engine = Engine(wait=0.001)
    engine.deliver("same", 1)
    assert engine.run([outside("same"), falls_back("same")]) == [1, 6]


# Lanes: batch functions in a worker thread while the other lanes' coroutines step


@pytest.mark.parametrize("lanes", [2, 3])
def test_lanes_give_every_coroutine_its_own_answers(lanes):
    fn = Recorder()

    async def parent(i):
        kids = await Spawn([chain(fn, i, 1), chain(fn, i + 1, 2)])
        return kids, await chain(fn, i, i % 4)

    engine = Engine(lanes=lanes)
    results = engine.run([parent(i) for i in range(30)])
    assert results == [([2 * i, 4 * (i + 1)], i * 2 ** (i % 4)) for i in range(30)]
    # a lane's coroutines (its spawned children too) are batched together, apart from others
    assert max(len(b) for b in fn.batches) <= -(-2 * 30 // lanes)
    assert engine.stats.items == sum(len(b) for b in fn.batches)


def test_a_lanes_batch_is_computed_while_another_lane_steps():
    """Lane 1's coroutine steps only once lane 0's batch has started, and the batch ends only
    once that coroutine has stepped: with one lane (the batch after every step) both waits
    would time out."""
    started, stepped = threading.Event(), threading.Event()
    seen = []

    def waits_for_the_other_lane(items):
        started.set()
        seen.append(stepped.wait(timeout=5))
        return items

    async def asks():
        return await Call(waits_for_the_other_lane, ["x"])

    async def steps():
        during = started.wait(timeout=5)
        stepped.set()
        return during

    assert Engine(lanes=2).run([asks(), steps()]) == [["x"], True]
    assert seen == [True]


def test_lanes_run_batch_functions_one_at_a_time_off_the_main_thread():
    lock, active, peak, threads = threading.Lock(), [0], [0], set()

    def slow(items):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        threads.add(threading.get_ident())
        time.sleep(0.002)
        with lock:
            active[0] -= 1
        return items

    interval = sys.getswitchinterval()
    results = Engine(lanes=4).run([chain(slow, i, 3) for i in range(40)])
    assert results == list(range(40))
    assert peak[0] == 1 and threading.get_ident() not in threads
    assert sys.getswitchinterval() == interval  # restored after the run


def staged_doubler(log: list):
    """A ``Staged`` batch function that doubles its items and logs each stage's thread."""

    def stage(name, result):
        log.append((name, threading.get_ident()))
        return result

    return Staged(
        prepare=lambda items: stage("prepare", [x + 1 for x in items]),
        compute=lambda inputs: stage("compute", [2 * x for x in inputs]),
        finish=lambda items, inputs, outputs: stage("finish", [y - 2 for y in outputs]),
    )


@pytest.mark.parametrize("lanes", [1, 2, 3])
def test_a_staged_function_answers_as_its_three_stages_do(lanes):
    log: list = []
    fn = staged_doubler(log)
    assert fn([1, 2]) == [2, 4]
    results = Engine(lanes=lanes, max_batch=7).run([chain(fn, i, 3) for i in range(30)])
    assert results == [8 * i for i in range(30)]
    assert {name for name, _ in log} == {"prepare", "compute", "finish"}


def test_with_lanes_only_a_staged_functions_compute_runs_in_the_worker():
    log: list = []
    main = threading.get_ident()
    Engine(lanes=2).run([chain(staged_doubler(log), i, 3) for i in range(20)])
    threads = {name: {t for n, t in log if n == name} for name in ("prepare", "compute", "finish")}
    assert threads["prepare"] == threads["finish"] == {main}
    assert threads["compute"] and main not in threads["compute"]


@pytest.mark.filterwarnings("ignore:coroutine 'chain' was never awaited")
def test_a_failing_batch_function_in_a_lane_fails_the_run():
    def broken(items):
        raise ZeroDivisionError("in the batch")

    coros = [chain(broken, i, 1) for i in range(4)]
    with pytest.raises(ZeroDivisionError, match="in the batch"):
        Engine(lanes=2).run(coros)
    for coro in coros:  # a lane the error cut short never started its coroutines
        coro.close()


def test_lanes_deliver_parked_answers_to_their_coroutines():
    fn = Recorder()
    engine = Engine(wait=0.001, lanes=2)

    async def ask_then_double(ticket):
        answer = await Outside(ticket)
        (doubled,) = await Call(fn, [answer])
        return doubled

    for ticket in ("b", "a", "c"):
        engine.deliver(ticket, ord(ticket))
    assert engine.run([ask_then_double(t) for t in "abc"]) == [2 * ord(t) for t in "abc"]


def test_an_engine_needs_a_lane():
    with pytest.raises(ValueError, match="at least one lane"):
        Engine(lanes=0)
