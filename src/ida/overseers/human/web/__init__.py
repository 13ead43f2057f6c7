"""The workbench's web server: a JSON API for scripted clients and server-rendered pages for
people (``make_app``). Needs the ``web`` extra: ``pip install "ida[web]"``."""

from __future__ import annotations


def make_app(url: str, lease: float = 120.0, unsafe: str | None = None):
    """The FastAPI app (see ``ida.overseers.human.web.app.make_app``)."""
    from ida.overseers.human.web.app import make_app as make

    return make(url, lease=lease, unsafe=unsafe)
