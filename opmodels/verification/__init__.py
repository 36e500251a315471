"""RTL co-verification: an operator's Verilog (generated, or your own) simulated with cocotb on Icarus
and compared with the model. Installed with the package: benches, harness and reference Verilog.

One concern per module:

- :mod:`.comparison`: the vectors of a check (from :mod:`opmodels.vectors`), their reference results,
  the comparison of result words, :class:`Result`;
- :mod:`.harness`: the generated Verilog harness and the files it exchanges with the bench;
- :mod:`.simulator`: Icarus present, the package's HDL files, building and running one cocotb bench;
- :mod:`.rtl`: the module under test read (Yosys, else pyverilog) and checked before a bench is
  built: ports, parameters, state (flip-flops need a clock, latches are refused);
- :mod:`.combinational`: :func:`verify` and :func:`verify_catalog` (generated or user modules,
  combinational or clocked);
- :mod:`.mac`: :func:`verify_mac`, the clocked MAC of ``hdl/opm_mac.v``;
- ``benches/``: the cocotb test modules the simulator's Python runs; ``hdl/``: hand-written
  reference Verilog (exact Booth, LOA, MAC), package data.

Every function takes :class:`~opmodels.Operator` objects; only the command line turns ids into
operators. cocotb is imported only in the simulator's Python, by the benches.
"""
from .combinational import MAX_LATENCY, PORTS, Dut, generated_dut, user_dut, verify, verify_catalog, verify_many
from .comparison import MAX_VECTORS, RANDOM_VECTORS, Result, check_vectors, compare, reference
from .mac import MAX_MAC_PRODUCTS, mac_model, mac_streams, verify_mac
from .rtl import Design, check_design, read_design
from .simulator import HDL_DIR, hdl_file, require_simulator

__all__ = ["Design", "MAX_LATENCY", "check_design", "read_design", "Dut", "HDL_DIR", "MAX_MAC_PRODUCTS", "MAX_VECTORS", "PORTS", "RANDOM_VECTORS", "Result", "check_vectors", "compare", "generated_dut", "hdl_file",
           "mac_model", "mac_streams", "reference", "require_simulator", "user_dut", "verify", "verify_catalog",
           "verify_many", "verify_mac"]
