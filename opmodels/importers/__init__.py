"""Importers: operators we did not write (RTL, lookup tables, C models) become :class:`Operator` values
with the proof of their import in their provenance (STYLE.md lesson 18).

:mod:`.tables`: tables in our and the peers' formats; :mod:`.cmodel`: C models compiled and tabulated.
"""
