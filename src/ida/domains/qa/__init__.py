"""Question decomposition: the five algorithmic tasks of Christiano, Shlegeris and Amodei
(2018) and any task written to the same protocol (``ida.domains.qa.tasks``).

``DOMAIN`` is what the core finds through the ``ida.domains`` entry point; the rest of the
domain (builder, evaluator, renderer, commands) is imported when it is used.
"""

from __future__ import annotations

from ida.core.registry import Domain, lazy

DOMAIN = Domain(
    name="qa",
    config=lazy("ida.domains.qa.config:QAConfig", call=False),
    tasks=lazy("ida.domains.qa.tasks:task_descriptions"),
    configure=lazy("ida.domains.qa.config:configure"),
    build=lazy("ida.domains.qa.build:build_job"),
    evaluate=lazy("ida.domains.qa.commands:evaluate_run"),
    render=lazy("ida.domains.qa.show:render_tree"),
    commands=lazy("ida.domains.qa.commands:add_commands"),
    workbench=lazy("ida.domains.qa.workbench:bench"),
)
