"""Importers: operators that come from outside the DSL enter as IR graphs, each with its proof.

One concern per module:

* :mod:`.verilog`: the user's combinational RTL, synthesised with Yosys (the flow of
  :mod:`opmodels.cost`), its gate netlist lowered into 1-bit IR nodes, and proved equal to an Icarus
  simulation of the original source (:func:`opmodels.verify.verify`);
* :mod:`.common`: what every importer shares: the source files and their hashes, the tool versions, the
  proof record, and storing the operator with its sources in an operator directory.

An importer returns an :class:`Imported` (the operator, whose provenance holds the proof, and the
sources); :func:`store` writes both. Nothing below the CLI imports this package.
"""
from .common import Imported, Source, read_sources, store
from .verilog import MAX_OPERAND_WIDTH, import_verilog, lower_netlist

__all__ = ["MAX_OPERAND_WIDTH", "Imported", "Source", "import_verilog", "lower_netlist", "read_sources", "store"]
