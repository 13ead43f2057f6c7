"""Iterated Distillation and Amplification."""

__version__ = "0.1.0"
