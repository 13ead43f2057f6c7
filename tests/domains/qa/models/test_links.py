"""The facts' token links, read off the tokens: which slot of which fact holds the token of
which slot of another."""

import numpy as np
import torch

from ida.domains.qa.models.links import held_tokens, link_moves, one_move, shared_slots, token_links
from ida.domains.qa.tasks import get_task
from ida.domains.qa.tasks.base import PAD


def test_padding_slots_hold_no_token_to_match():
    """A padding slot holds no token (so no fact matches another on padding); with ``tokens``
    the one-hot is over those tokens only, in their order."""
    facts = torch.tensor([[[3, 7, 9, PAD], [PAD, PAD, PAD, PAD]]])
    held = held_tokens(facts, 12)
    assert held.shape == (1, 2, 4, 12)
    assert held[0, 0].argmax(-1).tolist()[:3] == [3, 7, 9]
    assert held[0, 0, 3].sum() == 0 and held[0, 1].sum() == 0
    answers = held_tokens(facts, 12, tokens=(9, 3, 5))  # slot a holds answer k: token 9, 3, 5
    assert answers.shape == (1, 2, 4, 3)
    assert answers[0, 0].tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_token_links_spread_each_kind_evenly_over_the_facts_it_links():
    """Row (f, 0) is f itself; row (f, 1 + a * fact_len + b) spreads evenly over the facts whose
    slot b holds the token in f's slot a (none: zeros). Padding links nothing."""
    facts = torch.tensor([[[3, 4], [4, 5], [4, 3], [PAD, PAD]]])
    links = token_links(shared_slots(facts).float())[0].view(4, 5, 4)  # [F, kinds, G]
    assert torch.equal(links[:, 0], torch.eye(4))
    assert links[0, 1 + 1 * 2 + 0].tolist() == [0.0, 0.5, 0.5, 0.0]  # my y 4 is the x of 1, 2
    assert links[0, 1 + 0 * 2 + 1].tolist() == [0.0, 0.0, 1.0, 0.0]  # my x 3 is the y of 2
    assert links[1, 1 + 1 * 2 + 0].sum() == 0  # no fact's x is 5
    assert links[1, 1 + 0 * 2 + 0].tolist() == [0.0, 0.5, 0.5, 0.0]  # x with x: itself too
    assert links[3, 1:].sum() == 0 and links[:, 1:, 3].sum() == 0


def test_a_move_never_stays_by_a_slot_matching_itself():
    """For the link walk a fact's slot does not link to the same slot of itself: in a permutation
    the kinds x -> x and y -> y lead nowhere (each token is in one fact's slot a only), while
    y -> x leads from a fixed point (x, x) to itself and from every other fact to the next."""
    task = get_task("permutation_powering", 16)
    inst = task.sample_instance(np.random.default_rng(9))
    facts = torch.from_numpy(inst.facts)[None]
    move, kept = one_move(facts, moves=True)[0], one_move(facts)[0]  # [kinds, F, G]
    assert move[0].sum() == move[3].sum() == 0  # x -> x, y -> y
    assert torch.equal(kept[0], torch.eye(16)) and torch.equal(kept[3], torch.eye(16))
    row = {int(x) - 1: f for f, x in enumerate(inst.facts[:, 0])}
    ahead = torch.zeros(16, 16)
    for x, f in row.items():
        ahead[f, row[int(inst.data[x])]] = 1.0
    assert torch.equal(move[2], ahead) and torch.equal(move[1], ahead.T)  # y -> x, x -> y
    fixed = [row[x] for x in range(16) if int(inst.data[x]) == x]
    assert len(fixed) == 3 and all(move[2][f, f] == 1 for f in fixed)


def test_links_walk_the_graph_the_facts_describe():
    """Moving along the link 'my slot 1 is your slot 0' from the edge (u, v) goes to the edges
    leaving v: t >= 1 moves land on exactly the edges whose tail a walk of t - 1 edges reaches
    from v, and each move spreads evenly. No move leads to or from a padding fact."""
    task = get_task("shortest_path", 8)
    inst = task.sample_instance(np.random.default_rng(8))
    facts = torch.from_numpy(inst.facts)[None]
    padded = torch.cat([facts, torch.zeros(1, 2, 2, dtype=torch.long)], dim=1)
    links = link_moves(padded, 4)[0, 1 * 2 + 0]  # kind (slot 1 -> slot 0), [T, F, F]
    edges = inst.facts - 3
    adjacency = np.zeros((8, 8))
    adjacency[edges[:, 0], edges[:, 1]] = 1
    assert torch.equal(links[0], torch.eye(18))  # no move: where it started
    for t in range(1, 4):
        walks = np.linalg.matrix_power(adjacency, t - 1)  # walks[v, x] > 0: x in t - 1 edges
        for f, (_, v) in enumerate(edges):
            expected = walks[v, edges[:, 0]] > 0
            assert torch.equal(links[t, f, :16] > 0, torch.from_numpy(expected)), (t, f)
            assert torch.isclose(links[t, f].sum(), torch.tensor(1.0))
        assert (links[t, 16:] == 0).all() and (links[t, :, 16:] == 0).all()
