"""Backends: each one module that reads only the IR (``convert(...)`` is the entry point)."""
