"""A games run: a tiny tic-tac-toe run learns, a resumed run is the run it would have been, and
bad input (unknown or unplayable games, bad settings, corrupt checkpoints) is a one-line error."""

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from rich.console import Console

from ida.core.errors import IdaError
from ida.core.runs.checkpoint import FORMAT, load_checkpoint
from ida.core.runs.run import load_job, train
from ida.domains.games.config import GAME_SETTINGS, GamesConfig, configure
from ida.domains.games.job import GamesJob

TIMING = {"train_seconds", "eval_seconds", "sims_per_second"}

# a run of a few seconds; its evaluations: the raw net's share of suboptimal moves, and short
# matches of the agent (a small search) and the raw net against random
TINY = {
    "steps": 20,
    "eval_every": 10,
    "steps_per_round": 5,
    "games": 8,
    "search": {"simulations": 8},
    "net": {"width": 8, "blocks": 1, "value_hidden": 8},
    "batch_size": 16,
    "window": 2000,
    "eval": {"opponents": ["random"], "games": 4, "simulations": 4, "solved_search": False},
    "device": "cpu",
}


@pytest.fixture(autouse=True)
def _no_legend_warnings():
    """The curves of a run with no opponents have no labelled lines for their legend."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No artists with labels", UserWarning)
        yield


@pytest.fixture
def no_plots(monkeypatch):
    """Runs without their curves (matplotlib costs more than these tiny runs themselves)."""
    monkeypatch.setattr(GamesJob, "plot", lambda self, records, path: None)


def quiet():
    return Console(quiet=True)


def metrics(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def test_a_tiny_tic_tac_toe_run_learns_better_moves_than_its_untrained_net(tmp_path):
    settings = {
        "steps": 150,
        "eval_every": 150,
        "steps_per_round": 50,
        "games": 64,
        "search": {"simulations": 25},
        "net": {"width": 16, "blocks": 1, "value_hidden": 16},
        "batch_size": 64,
        "lr": 1e-2,
        "eval": {"opponents": [], "solved_search": False},
        "device": "cpu",
    }
    cfg = configure("tic_tac_toe", settings)
    job = GamesJob(cfg)
    untrained = job.evaluate()["suboptimal_net"]
    # uniformly random moves: the expected share of moves that are not optimal
    chance = np.mean(
        [
            1 - len(best) / len(state.legal_actions())
            for state, best in zip(job.solution.states, job.solution.optimal, strict=True)
        ]
    )
    summary = train(cfg, tmp_path / "run", console=quiet())
    assert summary["task"] == "tic_tac_toe" and summary["step"] == 150
    assert summary["games"] == 3 * 64 and summary["simulations"] > 0
    assert (tmp_path / "run" / "curves.png").is_file()
    assert chance == pytest.approx(0.42, abs=0.01) and untrained > 0.8 * chance
    assert summary["suboptimal_net"] < 0.75 * min(untrained, chance)
    assert summary["accuracy"] == pytest.approx(1 - summary["suboptimal_net"])


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"ema": 0.8, "search": {"simulations": 8, "leaves": 2}, "steps_per_round": 3, "lanes": 2},
    ],
)
def test_resume_continues_exactly(tmp_path, no_plots, extra):
    straight = train(configure("tic_tac_toe", {**TINY, **extra}), tmp_path / "a", console=quiet())
    half = configure("tic_tac_toe", {**TINY, **extra, "steps": 10})
    train(half, tmp_path / "b", console=quiet())
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 10
    resumed = train(None, tmp_path / "b", resume=True, steps=20, console=quiet())
    assert resumed["step"] == 20
    assert {k: v for k, v in resumed.items() if k not in TIMING} == {
        k: v for k, v in straight.items() if k not in TIMING
    }
    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert [r["step"] for r in a] == [10, 20] and a == b
    assert "search_vs_random" in a[-1] and "suboptimal_net" in a[-1]
    ja, jb = load_job(tmp_path / "a"), load_job(tmp_path / "b")
    wa, wb = ja.model.state_dict(), jb.model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    drop = {"search_seconds"}
    assert {k: v for k, v in ja.amplifier.counts.items() if k not in drop} == {
        k: v for k, v in jb.amplifier.counts.items() if k not in drop
    }
    assert ja.distiller.replay.size == jb.distiller.replay.size > 0


@pytest.fixture(scope="module")
def _finished(tmp_path_factory):
    run = tmp_path_factory.mktemp("games") / "run"
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        patch.setattr(GamesJob, "plot", lambda self, records, path: None)
        train(configure("tic_tac_toe", {**TINY, "steps": 10}), run, console=quiet())
    return run


@pytest.fixture
def finished(_finished, tmp_path, no_plots):
    """A copy of a finished 10-step run, for a test to damage."""
    return shutil.copytree(_finished, tmp_path / "run")


def one_line(err):
    return "\n" not in str(err.value)


def test_a_finished_run_loads(finished):
    job = load_job(finished)
    assert job.loop.step == 10 and job.cfg.task == "tic_tac_toe"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupt_checkpoint_is_a_one_line_error(finished, damage):
    path = finished / "checkpoint.pt"
    data = path.read_bytes()
    damaged = {"garbage": b"not a checkpoint" * 50, "truncated": data[: len(data) // 2]}
    path.write_bytes(damaged.get(damage, b""))
    with pytest.raises(IdaError, match="corrupt checkpoint") as err:
        load_job(finished)
    assert one_line(err)
    with pytest.raises(IdaError, match="corrupt checkpoint"):
        train(None, finished, resume=True, steps=20, console=quiet())


def test_a_checkpoint_missing_its_parts_is_a_one_line_error(finished):
    path = finished / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    assert state["format"] == FORMAT
    for broken in (
        {k: v for k, v in state.items() if k != "distiller"},
        {**state, "distiller": {"learner": state["distiller"]["learner"]}},
        {**state, "rng": "no rng state"},
    ):
        torch.save(broken, path)
        with pytest.raises(IdaError, match="corrupt checkpoint") as err:
            load_job(finished)
        assert one_line(err)


def test_a_checkpoint_of_another_net_shape_is_a_one_line_error(finished):
    config = finished / "config.json"
    saved = json.loads(config.read_text())
    config.write_text(json.dumps({**saved, "net": {**saved["net"], "blocks": 2}}))
    with pytest.raises(IdaError, match="does not fit") as err:
        load_job(finished)
    assert one_line(err)


@pytest.mark.parametrize(
    ("task", "settings", "match"),
    [
        ("no_such_game", {}, "unknown game 'no_such_game'"),
        ("kuhn_poker", {}, "hidden information"),
        ("goofspiel", {}, "not sequential"),
        ("tic_tac_toe", {"eval": {"opponents": ["bogus"]}}, "bogus"),
        ("tic_tac_toe", {"eval": {"opponents": ["mcts:0"]}}, "mcts:0"),
        ("tic_tac_toe", {"search": {"simulations": 0}}, "search.simulations"),
        ("tic_tac_toe", {"search": {"bogus": 1}}, "search.bogus"),
        ("tic_tac_toe", {"net": {"width": 0}}, "net.width"),
        ("tic_tac_toe", {"bogus_setting": 1}, "bogus_setting"),
        ("connect_four", {"eval": {"games": 1}}, "eval.games"),
    ],
)
def test_bad_games_and_settings_are_one_line_errors(task, settings, match):
    with pytest.raises(IdaError, match=match) as err:
        configure(task, settings)
    assert one_line(err)


def test_a_games_settings_are_merged_over_its_own():
    own = GAME_SETTINGS["tic_tac_toe"]
    cfg = configure("tic_tac_toe", {"search": {"simulations": 7}, "task": "ignored"})
    assert cfg.task == "tic_tac_toe" and cfg.search.simulations == 7
    # the game's own settings kept beside it, in the same table and others
    assert cfg.search.dirichlet_alpha == own["search"]["dirichlet_alpha"]
    assert cfg.net.width == own["net"]["width"] and cfg.steps == own["steps"]
    assert cfg.eval.opponents == own["eval"]["opponents"]
    assert "breakthrough" not in GAME_SETTINGS  # a game with no settings of its own: defaults
    assert configure("breakthrough", {}).model_dump() == {
        **GamesConfig(task="breakthrough").model_dump()
    }
