"""Iterated Distillation and Amplification."""

__version__ = "0.3.0"
