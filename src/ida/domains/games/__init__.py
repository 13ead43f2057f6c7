"""Games: AlphaZero as IDA on any two-player, zero-sum, perfect-information OpenSpiel game.

Monte Carlo tree search is Amplify (it calls the policy-value net as a subroutine and plays
better than the net alone); the net is Distill (it learns to predict what the search settles
on, and the outcome). ``DOMAIN`` is what the core finds through the ``ida.domains`` entry point;
the rest is imported when it is used.
"""

from __future__ import annotations

from ida.core.registry import Domain, lazy

DOMAIN = Domain(
    name="games",
    config=lazy("ida.domains.games.config:GamesConfig", call=False),
    tasks=lazy("ida.domains.games.game:GameNames"),
    configure=lazy("ida.domains.games.config:configure"),
    build=lazy("ida.domains.games.job:GamesJob"),
    evaluate=lazy("ida.domains.games.commands:evaluate_run"),
    render=lazy("ida.domains.games.commands:render_game"),
    commands=lazy("ida.domains.games.commands:add_commands"),
)
