"""Iterated Distillation and Amplification."""

__version__ = "0.2.0"
