"""A person as the overseer H: H's steps become tasks in a database queue (``queue``), people
take them through a web workbench (``web``), and the amplifying coroutines wait on them through
the engine. Needs the ``web`` extra: ``pip install "ida[web]"``."""
