"""The domain registry: tasks are found in the domain that owns them, whether it is installed
(the ``ida.domains`` entry point), registered in the process, or extended by a task plugin."""

from importlib.metadata import EntryPoint

import pytest

from ida.core import registry
from ida.core.errors import IdaError
from ida.core.registry import Domain, domain_of, domains, register_domain
from ida.core.runs.config import RunConfig
from ida.domains.qa import DOMAIN as QA
from ida.domains.qa.tasks import TASKS, get_task, register

BUILT_IN = [
    "permutation_powering",
    "sequential_assignments",
    "wildcard_search",
    "shortest_path",
    "union_find",
]


@pytest.fixture
def fresh(monkeypatch):
    """An empty registry for the test (restored after it): domains come from entry points."""
    monkeypatch.setattr(registry, "_DOMAINS", {})
    monkeypatch.setattr(registry, "_LOADED", set())
    monkeypatch.setattr(registry, "_FAILED", {})


def toy_domain(name="toy", tasks=("toy_task",)):
    def unused(*args, **kwargs):
        raise AssertionError("not called here")

    return Domain(
        name=name,
        config=lambda: RunConfig,
        tasks=lambda: {task: f"a {name} task" for task in tasks},
        configure=unused,
        build=unused,
        evaluate=unused,
        render=unused,
    )


def test_the_installed_domains_are_found_through_their_entry_points(fresh):
    """With nothing registered, ``domains()`` loads qa and games from the installed entry
    points; each built-in question task is qa's, each game the games domain's."""
    assert set(domains()) == {"qa", "games", "programs", "text"} and domains()["qa"] is QA
    assert domain_of("connect_four") is domains()["games"]
    for task in BUILT_IN:
        assert domain_of(task) is QA
        assert QA.tasks()[task] == type(get_task(task)).description


def test_an_unknown_task_is_one_error_naming_every_task(fresh):
    """The error lists the tasks of every domain, sorted, so the user can pick one."""
    register_domain(toy_domain())
    with pytest.raises(IdaError, match="unknown task 'no_such_task'") as err:
        domain_of("no_such_task")
    listed = str(err.value).split("choose one of: ")[1].split(", ")
    assert listed == sorted(listed)
    assert set(BUILT_IN) | {"toy_task"} <= set(listed)


def test_a_registered_domain_is_found_by_its_tasks_beside_the_installed_ones(fresh):
    """A domain registered in the process owns its tasks; qa still owns its own."""
    toy = register_domain(toy_domain())
    assert domain_of("toy_task") is toy
    assert domain_of("union_find") is QA
    assert set(domains()) == {"toy", "qa", "games", "programs", "text"}


def test_a_task_plugin_registered_with_qa_shows_up_in_the_qa_domain():
    """A task class registered through ``ida.domains.qa.tasks.register`` is listed by the qa
    domain, with its description, and its runs are qa's."""
    base = type(get_task("permutation_powering"))

    class PluginTask(base):
        name = "registry_test_plugin"
        description = "a plugin task for the registry test"

    try:
        register(PluginTask)
        assert QA.tasks()["registry_test_plugin"] == "a plugin task for the registry test"
        assert domain_of("registry_test_plugin") is QA
    finally:
        TASKS.pop("registry_test_plugin", None)
    with pytest.raises(IdaError, match="unknown task 'registry_test_plugin'"):
        domain_of("registry_test_plugin")


def test_a_broken_domain_plugin_leaves_the_others_and_is_named_when_its_task_is_asked(
    fresh, monkeypatch
):
    """An entry point that cannot be loaded takes no other domain down; asking for a task no
    loaded domain owns is one error that names the broken plugin and why."""
    qa = next(e for e in registry.entry_points(group=registry.GROUP) if e.name == "qa")
    broken = EntryPoint(name="broken", value="no_such_module_ida:DOMAIN", group=registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [broken, qa])
    assert list(domains()) == ["qa"] and domain_of("union_find") is QA
    with pytest.raises(IdaError, match="domain plugin 'broken' could not be loaded") as err:
        domain_of("a_task_of_the_broken_plugin")
    assert "ModuleNotFoundError" in str(err.value) and "\n" not in str(err.value)


def test_lazy_imports_its_target_only_when_called():
    """A ``Domain`` made of ``lazy`` parts imports nothing of its domain until a part is used."""
    import subprocess
    import sys

    code = (
        "import sys; from ida.core.registry import lazy; "
        "f = lazy('json:dumps'); c = lazy('fractions:Fraction', call=False); "
        "assert 'fractions' not in sys.modules; "
        "assert f([1]) == '[1]' and c()(1, 2) == c()(2, 4); print('ok')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "ok", run.stderr
