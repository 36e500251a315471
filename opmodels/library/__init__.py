"""Operator families, each written once in the DSL."""
from .booth import BoothR4
from .loa import LOA

__all__ = ["BoothR4", "LOA"]
