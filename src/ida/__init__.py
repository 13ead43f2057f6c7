"""Iterated Distillation and Amplification."""

__version__ = "0.5.0"
