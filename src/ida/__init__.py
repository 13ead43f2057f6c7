"""Iterated Distillation and Amplification."""

__version__ = "0.4.0"
