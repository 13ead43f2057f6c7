"""Programs: program induction as IDA, with a simulator and a world model.

Search over edits of straight-line programs is Amplify (each candidate run by the simulator,
which plays H and whose calls are counted; the net proposes edits, orders the states and
predicts which edits are worth a call); the net is Distill (it learns the edits of the programs
the searches found: expert iteration). ``DOMAIN`` is what the core finds through the
``ida.domains`` entry point; the rest is imported when it is used.
"""

from __future__ import annotations

from ida.core.registry import Domain, lazy

TASKS = {"programs": "program induction: DeepCoder's list DSL, tasks from random programs"}

DOMAIN = Domain(
    name="programs",
    config=lazy("ida.domains.programs.config:ProgramsConfig", call=False),
    tasks=lambda: TASKS,
    configure=lazy("ida.domains.programs.config:configure"),
    build=lazy("ida.domains.programs.job:ProgramsJob"),
    evaluate=lazy("ida.domains.programs.commands:evaluate_run"),
    render=lazy("ida.domains.programs.commands:render_search"),
    commands=lazy("ida.domains.programs.commands:add_commands"),
)
