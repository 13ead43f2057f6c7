import socket
import threading
import time

import pytest

from ida.core.errors import IdaError
from ida.overseers.llm.client import ChatClient, EndpointError, Sampling
from ida.overseers.llm.testing import Fail, Raw, serve

HELLO = [{"role": "user", "content": "hello"}]


def echo(messages, model, params):
    return f"ANSWER: {messages[-1]['content']}"


def client_for(server, **kw):
    kw.setdefault("backoff", 0.01)
    return ChatClient(server.endpoint, kw.pop("model", "toy"), **kw)


def test_complete_in_order_with_counts():
    with serve(echo) as server:
        client = client_for(server)
        requests = [[{"role": "user", "content": f"q{i}"}] for i in range(5)]
        replies = client.complete(requests)
    assert [r.text for r in replies] == [f"ANSWER: q{i}" for i in range(5)]
    assert client.counts["calls"] == 5 == server.calls
    assert client.counts["completion_tokens"] == 10 and client.counts["prompt_tokens"] == 5
    assert client.counts["seconds"] > 0 and not client.counts["retries"]


def test_sampling_params_are_sent():
    with serve(echo) as server:
        sampling = Sampling(temperature=0.7, max_tokens=9, top_p=0.9, seed=3, stop=("\n",))
        client_for(server, sampling=sampling).complete([HELLO])
        params = server.log[-1]["params"]
    assert params == {"temperature": 0.7, "max_tokens": 9, "top_p": 0.9, "seed": 3, "stop": ["\n"]}


def test_cache_rerun_makes_no_call_and_changes_miss(tmp_path):
    cache = tmp_path / "llm.sqlite"
    with serve(echo, models=("toy", "other")) as server:
        requests = [HELLO, [{"role": "user", "content": "bye"}]]
        first = client_for(server, cache=cache).complete(requests)
        assert server.calls == 2
        rerun = client_for(server, cache=cache)  # a new process would open the file the same way
        assert [r.text for r in rerun.complete(requests)] == [r.text for r in first]
        assert server.calls == 2 and rerun.counts["cache_hits"] == 2 and not rerun.counts["calls"]
        client_for(server, cache=cache, model="other").complete([HELLO])
        assert server.calls == 3
        client_for(server, cache=cache, sampling=Sampling(temperature=0.5)).complete([HELLO])
        assert server.calls == 4
        client_for(server, cache=cache).complete([[{"role": "user", "content": "hello!"}]])
        assert server.calls == 5


def test_identical_requests_in_a_batch_are_sent_once():
    with serve(echo) as server:
        replies = client_for(server).complete([HELLO, HELLO, HELLO])
    assert server.calls == 1 and [r.text for r in replies] == ["ANSWER: hello"] * 3


def test_errors_are_not_cached(tmp_path):
    fail = [True]

    def flaky(messages, model, params):
        return Fail(503, "busy") if fail[0] else "ANSWER: ok"

    with serve(flaky) as server:
        client = client_for(server, cache=tmp_path / "c.sqlite", retries=1)
        assert client.complete([HELLO])[0].error == "HTTP 503: busy"
        fail[0] = False
        assert client.complete([HELLO])[0].text == "ANSWER: ok"


def test_transient_errors_are_retried():
    served = []

    def flaky(messages, model, params):
        served.append(1)
        if len(served) == 1:
            return Fail(500)
        if len(served) == 2:
            return Fail(429, "slow down")
        if len(served) == 3:
            return Raw(b"{not json")
        return "ANSWER: fine"

    with serve(flaky) as server:
        client = client_for(server, retries=3)
        (reply,) = client.complete([HELLO])
    assert reply.text == "ANSWER: fine"
    assert client.counts["retries"] == 3 and client.counts["http_errors"] == 3
    assert client.counts["calls"] == 4 and not client.counts["errors"]


def test_spent_retries_give_an_error_reply_and_lose_nothing_else():
    def some_fail(messages, model, params):
        return Fail(502, "bad gateway") if messages[-1]["content"] == "bad" else "ANSWER: ok"

    requests = [HELLO, [{"role": "user", "content": "bad"}], HELLO + HELLO]
    with serve(some_fail) as server:
        client = client_for(server, retries=2)
        replies = client.complete(requests)
    assert [r.text for r in replies] == ["ANSWER: ok", None, "ANSWER: ok"]
    assert replies[1].error == "HTTP 502: bad gateway"
    assert client.counts["errors"] == 1 and client.counts["retries"] == 2


def test_timeout():
    def slow(messages, model, params):
        time.sleep(1.0)
        return "ANSWER: late"

    with serve(slow) as server:
        client = client_for(server, timeout=0.2, retries=1)
        start = time.perf_counter()
        (reply,) = client.complete([HELLO])
        took = time.perf_counter() - start
    assert reply.text is None and "timed out" in reply.error
    assert client.counts["timeouts"] == 2 and client.counts["errors"] == 1
    assert took < 0.9


def test_concurrency_limit():
    def busy(messages, model, params):
        time.sleep(0.1)
        return "ANSWER: ok"

    with serve(busy) as server:
        client = client_for(server, concurrency=3)
        requests = [[{"role": "user", "content": str(i)}] for i in range(9)]
        start = time.perf_counter()
        client.complete(requests)
        took = time.perf_counter() - start
    assert server.peak == 3 and took < 0.9  # 3 waves of 0.1 s, not 9


def test_check_lists_models():
    with serve(echo, models=("toy", "other")) as server:
        assert client_for(server).check() == ["toy", "other"]


def test_unknown_model_is_one_line_error():
    with serve(echo) as server:
        client = client_for(server, model="gpt-9")
        with pytest.raises(EndpointError) as checked:
            client.check()
        with pytest.raises(EndpointError) as completed:
            client.complete([HELLO])
    for error in (checked, completed):
        assert isinstance(error.value, IdaError) and "\n" not in str(error.value)
        assert "gpt-9" in str(error.value)
    assert "it serves: toy" in str(checked.value)
    assert server.calls == 1  # a refused model is not retried


def test_fatal_error_sends_nothing_more():
    with serve(echo) as server:
        client = client_for(server, model="gpt-9", concurrency=1)
        with pytest.raises(EndpointError):
            client.complete([[{"role": "user", "content": str(i)}] for i in range(9)])
        assert server.calls <= 2  # the one refused, and at most one already on its way


def test_unreachable_endpoint_is_one_line_error():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ChatClient(f"http://127.0.0.1:{port}/v1", "toy", retries=1, backoff=0.01)
    with pytest.raises(EndpointError, match="cannot reach .*refused") as checked:
        client.check()
    with pytest.raises(EndpointError, match="cannot reach") as completed:
        client.complete([HELLO])
    assert "\n" not in str(checked.value) + str(completed.value)


def test_cache_is_safe_across_threads(tmp_path):
    with serve(echo) as server:
        client = client_for(server, cache=tmp_path / "c.sqlite", concurrency=8)
        requests = [[{"role": "user", "content": str(i)}] for i in range(40)]
        threads = [threading.Thread(target=client.complete, args=(requests,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(client.cache) == 40
        calls = server.calls
        client.complete(requests)
        assert server.calls == calls
