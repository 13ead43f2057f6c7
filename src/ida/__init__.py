"""Iterated Distillation and Amplification."""

__version__ = "0.6.7"
