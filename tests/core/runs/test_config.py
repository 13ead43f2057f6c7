"""Run settings: ``--set`` pairs with dotted keys, tables merged key by key, and the order in
which a task's recommended settings and a user's settings are applied."""

import json

import pytest

from ida.core.errors import IdaError
from ida.core.runs.config import RunConfig, make_config, merge, parse_settings, read_config_file
from ida.domains.qa import DOMAIN as QA


def test_parse_settings_reads_json_values_and_nests_dotted_keys():
    """Values are JSON where they parse, else strings; a dotted key names a setting in a table;
    a later pair for the same key wins, and pairs into one table are merged."""
    settings = parse_settings(
        [
            "steps=5",
            "lr=1e-3",
            "resume=true",
            "device=cuda:1",
            "model.link_walk.moves=8",
            "model.d_model=64",
            "model.link_walk.moves=9",
            'model.reach={"moves": 3}',
            " seed = 2",
        ]
    )
    assert settings == {
        "steps": 5,
        "lr": 1e-3,
        "resume": True,
        "device": "cuda:1",
        "model": {"link_walk": {"moves": 9}, "d_model": 64, "reach": {"moves": 3}},
        "seed": 2,
    }


@pytest.mark.parametrize("pair", ["steps", "model..moves=1", ".steps=1", "model.=1", "=1"])
def test_a_malformed_pair_is_a_one_line_error(pair):
    """A pair without ``=`` or with an empty name in its key names itself in the error."""
    with pytest.raises(IdaError, match="--set expects KEY=VALUE"):
        parse_settings([pair])


def test_merge_puts_settings_over_defaults_table_by_table():
    """Nested tables merge key by key; a value that is not a table replaces; neither input is
    changed."""
    defaults = {"steps": 10, "model": {"d_model": 32, "link_walk": {"moves": 16}}, "x": {"a": 1}}
    settings = {"model": {"link_walk": {"moves": 4}, "n_heads": 2}, "x": 5}
    snapshot = json.dumps([defaults, settings])
    assert merge(defaults, settings) == {
        "steps": 10,
        "model": {"d_model": 32, "link_walk": {"moves": 4}, "n_heads": 2},
        "x": 5,
    }
    assert json.dumps([defaults, settings]) == snapshot


def test_make_config_ignores_none_overrides_and_names_bad_fields():
    """None overrides leave the base as it is; an invalid value is one error naming the field."""
    cfg = make_config(RunConfig, {"task": "t", "steps": 7}, steps=None, seed=3)
    assert (cfg.steps, cfg.seed) == (7, 3)
    with pytest.raises(IdaError, match=r"invalid config: steps: .*greater than or equal to 1"):
        make_config(RunConfig, {"task": "t"}, steps=0)
    with pytest.raises(IdaError, match="bogus"):
        make_config(RunConfig, {"task": "t", "bogus": 1})


def test_config_files_in_toml_or_json(tmp_path):
    """A .json file is read as JSON and anything else as TOML; it must hold a table."""
    (tmp_path / "a.json").write_text('{"steps": 3, "model": {"d_model": 16}}')
    (tmp_path / "a.toml").write_text("steps = 3\n[model]\nd_model = 16\n")
    assert read_config_file(tmp_path / "a.json") == read_config_file(tmp_path / "a.toml")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(IdaError, match="expected a table of settings"):
        read_config_file(tmp_path / "list.json")


def test_a_tasks_recommended_settings_come_under_explicit_ones():
    """qa's ``configure`` starts from the task's recommended settings (shortest_path: 2000
    steps, the sink and a reach profile of 7 moves); explicit settings override them key by
    key, leaving the rest of the recommendation in place."""
    recommended = QA.configure("shortest_path", {})
    assert recommended.task == "shortest_path" and recommended.steps == 2000
    assert recommended.model.reach.moves == 7 and recommended.model.attention_sink is not None
    assert recommended.model.relation_prior == 0.2
    mine = QA.configure("shortest_path", {"steps": 9, "model": {"reach": {"moves": 3}}})
    assert mine.steps == 9 and mine.model.reach.moves == 3
    assert mine.model.attention_sink is not None and mine.model.relation_prior == 0.2
    off = QA.configure("shortest_path", {"model": {"reach": False}})
    assert off.model.reach is None
    plain = QA.configure("union_find", {})  # no recommendation leaks from another task
    assert plain.steps == 3000 and plain.model.reach is None


def test_permutation_powerings_walk_is_long_enough_for_the_size():
    """At size n, s^k(x) may be n - 1 moves on: the recommended walk takes at least that many,
    and never fewer than its default of 16."""
    assert QA.configure("permutation_powering", {}).model.link_walk.moves == 16
    assert QA.configure("permutation_powering", {"size": 8}).model.link_walk.moves == 16
    assert QA.configure("permutation_powering", {"size": 40}).model.link_walk.moves == 39
    explicit = {"size": 40, "model": {"link_walk": {"moves": 5}}}
    assert QA.configure("permutation_powering", explicit).model.link_walk.moves == 5
