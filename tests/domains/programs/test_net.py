"""The net as the search's advisor: a state's candidate edits are exactly its type-valid edits,
best first, with log-probabilities that sum to one; the cached, incremental encoding gives
what encoding every state afresh gives."""

from __future__ import annotations

from functools import cache
from itertools import product

import numpy as np
import pytest
import torch

from ida.domains.programs.config import configure
from ida.domains.programs.deepcoder import DEEPCODER as L
from ida.domains.programs.encode import encode_states
from ida.domains.programs.guide import FORWARD, make_guide
from ida.domains.programs.job import make_net
from ida.domains.programs.net import to_tensors

EXAMPLES = [(2, [3, -1, 4], [5, 9]), (0, [2, 7, 1, 8], [-2, 8, 1]), (5, [6], [0, 0, 3])]


@cache
def fresh_net():
    torch.manual_seed(0)
    return make_net(configure("programs", {"net": {"width": 16}, "device": "cpu"})).eval()


def env_of(*columns):
    """A state's variables from per-variable value lists (one value per example)."""
    return [L.to_values(L.check(column[0]), list(column)) for column in columns]


def inputs():
    return env_of(*zip(*EXAMPLES, strict=True))


def valid_edits(env):
    """Every (op, args) whose arguments are variables of the op's types."""
    types = [v.type for v in env]
    return {
        (o, args)
        for o, op in enumerate(L.ops)
        for args in product(*[[v for v, t in enumerate(types) if t == a] for a in op.args])
    }


def advised(advice):
    return [
        (int(o), tuple(int(a) for a in args if a >= 0))
        for o, args in zip(advice.ops, advice.args, strict=True)
    ]


def goal():
    return L.to_values("list", [[3, 4], [7, 8], [6]])


def states():
    """(int, list, list) inputs; with a list and an int more; with lists only."""
    base = inputs()
    xs = [row[1] for row in EXAMPLES]
    grown = [*base, *env_of([sorted(x) for x in xs], [sum(x) for x in xs])]
    lists = env_of(xs, [x[::-1] for x in xs])
    return [base, grown, lists]


@pytest.mark.parametrize("forward_model", [True, False])
def test_the_candidates_are_exactly_the_type_valid_edits_best_first(forward_model):
    guide = make_guide(fresh_net(), L, 10_000, forward_model=forward_model)
    envs = states()
    for env, advice in zip(envs, guide([(env, goal()) for env in envs]), strict=True):
        got = advised(advice)
        assert len(got) == len(set(got)) and set(got) == valid_edits(env)
        assert (np.diff(advice.logp) <= 0).all()
        assert np.exp(advice.logp.astype(np.float64)).sum() == pytest.approx(1, abs=1e-4)
        assert ((advice.new >= 0) & (advice.new <= 1)).all() and 0 < advice.value < 1
        judged = advice.new[:FORWARD]
        assert (advice.new[FORWARD:] == 1).all()
        assert (judged < 1).all() if forward_model else (judged == 1).all()
    # with lists only, TAKE, DROP and ACCESS (an int and a list) fit no variable
    no_int = {L.op_index(n) for n in ("TAKE", "DROP", "ACCESS")}
    assert not no_int & {o for o, _ in advised(guide([(envs[2], goal())])[0])}
    assert no_int <= {o for o, _ in advised(guide([(envs[0], goal())])[0])}


def test_max_children_keeps_the_best():
    env = states()[1]
    everything = make_guide(fresh_net(), L, 10_000)([(env, goal())])[0]
    best = make_guide(fresh_net(), L, 7)([(env, goal())])[0]
    assert advised(best) == advised(everything)[:7]
    assert np.array_equal(best.logp, everything.logp[:7]) and best.value == everything.value


def test_the_incremental_guide_matches_encoding_every_state_afresh():
    """States sharing variables across calls (a root, then its children) get the advice that
    the plain encoder gives each state on its own."""
    net, envs, g = fresh_net(), states(), goal()
    guide = make_guide(net, L, 10_000)
    calls = [[(envs[0], g)], [(envs[1], g), (envs[0], g)], [(envs[2], g), (envs[1], g)]]
    for items in calls:
        for (env, goal_), advice in zip(items, guide(items), strict=True):
            arrays = encode_states(L, [env], [goal_], net.slots)
            with torch.inference_mode():
                h, s = net.encode(to_tensors(arrays, "cpu"))
                op_lp, arg_lp = net.policy(h, s, to_tensors(arrays, "cpu")["kinds"])
                value = torch.sigmoid(net.value(s)).item()
            assert advice.value == pytest.approx(value, abs=1e-5)
            for (op, args), logp in zip(advised(advice), advice.logp, strict=True):
                expected = op_lp[0, op] + sum(arg_lp[0, a, op, k] for k, a in enumerate(args))
                assert logp == pytest.approx(expected.item(), abs=1e-4)
