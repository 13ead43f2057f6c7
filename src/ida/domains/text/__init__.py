"""Text: weak HCH in English. Small generated worlds (people, their employers, managers,
friends, cities and countries) are told as sentences; questions chain 1 to 4 relations
("Which country is the city where the employer of Ada Brook is based in?"). H (a script, a
language model behind an endpoint, or people at the workbench) answers a one-hop question from
the facts and splits a longer one into subquestions that A answers; A, a small transformer,
answers in words.

``DOMAIN`` is what the core finds through the ``ida.domains`` entry point; the rest is
imported when it is used.
"""

from __future__ import annotations

from ida.core.registry import Domain, lazy

DOMAIN = Domain(
    name="text",
    config=lazy("ida.domains.text.config:TextConfig", call=False),
    tasks=lazy("ida.domains.text.config:tasks"),
    configure=lazy("ida.domains.text.config:configure"),
    build=lazy("ida.domains.text.job:TextJob"),
    evaluate=lazy("ida.domains.text.show:evaluate_run"),
    render=lazy("ida.domains.text.show:render_tree"),
    workbench=lazy("ida.domains.text.workbench:bench"),
)
