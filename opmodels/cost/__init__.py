"""Hardware cost of an operator: area, depth and a switching-energy proxy from Yosys synthesis of its
generated Verilog (docs/cost.md). One concern per module:

* :mod:`~opmodels.cost.yosys`: finding and running Yosys, the flows, reading its netlist back;
* :mod:`~opmodels.cost.netlist`: the gate library, the netlist and its simulator (values, toggles);
* :mod:`~opmodels.cost.model`: an operator's checked, cached netlist and its :class:`Cost`.

``opmodels.get("M4P8").cost()`` is the usual entry; :func:`cost` takes an Operator, never an id.
"""
from .model import (CHECK_RANDOM_PAIRS, ENERGY_SAMPLES, ENERGY_WEIGHT, FLOW_VERSION, MAX_SAMPLES, Cost, baseline_id,
                    cache_directory, check_netlist, cost, design_cost, energy, load_trace, operator_netlist, uniform_stream)
from .netlist import AREA_NAND2, CELL_FUNCTIONS, CONST0, CONST1, Gate, Netlist, NetlistError, topological_order
from .yosys import (DEFAULT_FLOW, FLOW, DesignError, elaborate, GATES, MAPPINGS, SynthesisError, check_flow, find_yosys, module_names,
                    read_json, require_yosys, synthesize, yosys_version)

__all__ = ["AREA_NAND2", "CELL_FUNCTIONS", "CHECK_RANDOM_PAIRS", "CONST0", "CONST1", "Cost", "DEFAULT_FLOW", "DesignError", "elaborate",
           "ENERGY_SAMPLES", "ENERGY_WEIGHT", "FLOW", "FLOW_VERSION", "GATES", "Gate", "MAPPINGS", "MAX_SAMPLES", "Netlist",
           "NetlistError", "SynthesisError", "baseline_id", "cache_directory", "check_flow", "check_netlist",
           "cost", "design_cost", "energy", "find_yosys", "load_trace", "module_names", "operator_netlist", "read_json",
           "require_yosys", "synthesize", "topological_order", "uniform_stream", "yosys_version"]
