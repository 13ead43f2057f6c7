"""Task plugins (the ``ida.tasks`` entry points): a broken one takes no built-in task down."""

from importlib.metadata import EntryPoint

import pytest

from ida.core.errors import IdaError
from ida.domains.qa import tasks
from ida.domains.qa.config import configure


def test_a_broken_task_plugin_is_named_only_when_it_is_asked_for(monkeypatch):
    broken = EntryPoint(name="broken_task", value="no_such_module_ida:Task", group="ida.tasks")
    monkeypatch.setattr(tasks, "entry_points", lambda group: [broken])
    monkeypatch.setattr(tasks, "_BROKEN", {})
    assert tasks.get_task("union_find").name == "union_find"
    assert configure("union_find").task == "union_find"
    assert "cannot load" in tasks.task_descriptions()["broken_task"]
    with pytest.raises(IdaError, match="cannot load task plugin 'broken_task'") as err:
        tasks.get_task("broken_task")
    assert "ModuleNotFoundError" in str(err.value) and "\n" not in str(err.value)
