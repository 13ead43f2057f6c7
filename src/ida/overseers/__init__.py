"""Overseers that are not a task's own script: ``human``, people answering through the workbench."""
