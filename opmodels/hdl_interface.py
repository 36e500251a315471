"""Parse Verilog with pyverilog and check a module's interface (name, ports, widths, signedness).

pyverilog writes its parser tables (and, through its preprocessor, ``preprocess.output``) into a
directory and takes about a second to build its parser, so one parser is built per process in a
temporary directory and reused. The files are joined into one text there, each ending in a newline
(``iverilog -E`` given several files runs the last line of one into the first of the next, so a file
without a final newline made ``endmodulemodule``), and preprocessed with ``iverilog -E``.

A port whose width cannot be read is an error, never a check skipped. The verifier reads the user's
RTL with Yosys when it is installed (:func:`opmodels.cost.yosys.elaborate`) and with this module
otherwise.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import tools
from .errors import OpmodelsError, first_error


class UnparsableVerilog(OpmodelsError):
    """pyverilog (a Verilog-2001 parser) cannot read the file, though a simulator may."""


@dataclass(frozen=True)
class Port:
    name: str
    direction: str     # "input" or "output"
    width: int | None  # None when the width expression could not be evaluated
    signed: bool


_PARSER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _workspace() -> tuple[object, Path]:
    from pyverilog.vparser.parser import VerilogParser
    directory = Path(tempfile.mkdtemp(prefix="opmodels-pyverilog-"))
    atexit.register(shutil.rmtree, directory, True)
    return VerilogParser(outputdir=str(directory), debug=False), directory


def _joined(sources, directory: Path) -> Path:
    """The sources in one file of ``directory``, each ending in a newline."""
    parts = []
    for source in sources:
        try:
            text = Path(source).read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise OpmodelsError(f"cannot read Verilog file {str(source)!r}: {error.strerror}") from None
        parts.append(text if text.endswith("\n") else text + "\n")
    handle, name = tempfile.mkstemp(dir=directory, prefix="joined.", suffix=".v")
    with os.fdopen(handle, "w") as out:
        out.write("".join(parts))
    return Path(name)


def parse(sources, defines: dict | None = None):
    """The pyverilog AST of ``sources`` (paths), preprocessed with ``defines``."""
    with _PARSER_LOCK:
        parser, directory = _workspace()
    handle, name = tempfile.mkstemp(dir=directory, prefix="preprocess.", suffix=".output")
    os.close(handle)
    output = Path(name)
    shown = ", ".join(map(str, sources))
    joined = _joined(sources, directory)
    command = ["iverilog", "-E", "-o", str(output), *(f"-D{k}={v}" for k, v in (defines or {}).items()),
               *(f"-I{d}" for d in dict.fromkeys(str(Path(s).resolve().parent) for s in sources)), str(joined)]
    try:
        result = tools.run(command, what=f"iverilog -E of {shown}")
        text = output.read_text()
    finally:
        output.unlink(missing_ok=True)
        joined.unlink(missing_ok=True)
    if result.returncode:
        raise UnparsableVerilog(f"cannot preprocess {shown}: "
                                f"{first_error(result.stderr + result.stdout, {str(joined): shown})}")
    try:
        with _PARSER_LOCK:  # one ply parser per process, not reentrant
            return parser.parse(text)
    except Exception as error:  # pyverilog raises ParseError and plain exceptions alike
        message = first_error(str(error), {str(output): shown})
        raise UnparsableVerilog(f"pyverilog cannot parse {shown}: {message}") from None


def modules(ast) -> dict:
    return {m.name: m for m in ast.description.definitions if type(m).__name__ == "ModuleDef"}


def _evaluate(node, env: dict) -> int | None:
    """Integer value of a constant width expression over the module's parameters, or None."""
    from pyverilog.vparser import ast as vast
    if isinstance(node, vast.IntConst):
        text = node.value.replace("_", "")
        if "'" in text:
            _, _, rest = text.partition("'")
            base = {"d": 10, "h": 16, "b": 2, "o": 8}[rest.lstrip("sS")[0].lower()]
            return int(rest.lstrip("sS")[1:], base)
        return int(text)
    if isinstance(node, vast.Identifier):
        return env.get(node.name)
    operators = {vast.Plus: lambda x, y: x + y, vast.Minus: lambda x, y: x - y,
                 vast.Times: lambda x, y: x * y, vast.Divide: lambda x, y: x // y}
    for kind, apply in operators.items():
        if isinstance(node, kind):
            x, y = _evaluate(node.left, env), _evaluate(node.right, env)
            return None if x is None or y is None else apply(x, y)
    return None


def interface(module, overrides: dict | None = None) -> list[Port]:
    """The ports of a parsed module, in declaration order, with widths evaluated where possible."""
    from pyverilog.vparser import ast as vast
    env: dict = {}
    declarations: dict[str, tuple] = {}

    def note(decl):
        if isinstance(decl, (vast.Parameter, vast.Localparam)):
            value = _evaluate(decl.value.var, env)
            if value is not None:
                env[decl.name] = value
            if isinstance(decl, vast.Parameter) and decl.name in (overrides or {}):
                env[decl.name] = int(overrides[decl.name])
        elif isinstance(decl, (vast.Input, vast.Output)):
            declarations[decl.name] = decl

    for item in getattr(module.paramlist, "params", ()) or ():
        for decl in item.list:
            note(decl)
    ports = []
    for port in module.portlist.ports:
        if isinstance(port, vast.Ioport):
            note(port.first)
    for item in module.items:
        if isinstance(item, vast.Decl):
            for decl in item.list:
                note(decl)
    for port in module.portlist.ports:
        name = port.first.name if isinstance(port, vast.Ioport) else port.name
        decl = declarations.get(name)
        if decl is None:
            continue
        width = 1
        if decl.width is not None:
            msb, lsb = _evaluate(decl.width.msb, env), _evaluate(decl.width.lsb, env)
            width = None if msb is None or lsb is None else abs(msb - lsb) + 1
        ports.append(Port(name, "input" if isinstance(decl, vast.Input) else "output", width, bool(decl.signed)))
    return ports


def parameters(module) -> list[str]:
    """The names of a parsed module's parameters (not its localparams), in declaration order."""
    from pyverilog.vparser import ast as vast
    found = []
    for item in [*(getattr(module.paramlist, "params", ()) or ()),
                 *(i for i in module.items if isinstance(i, vast.Decl))]:
        found += [d.name for d in item.list if isinstance(d, vast.Parameter)]
    return list(dict.fromkeys(found))


def edge_processes(found: dict, top: str) -> list[tuple[str, str]]:
    """(module, clock) of every ``always @(posedge/negedge ...)`` in ``top`` and the modules it
    instantiates: a module that has one is sequential (what Yosys would map to flip-flops)."""
    from pyverilog.vparser import ast as vast
    result, seen, todo = [], set(), [top]

    def walk(node, module):
        if isinstance(node, vast.Always) and node.sens_list is not None:
            for sens in node.sens_list.list:
                if sens.type in ("posedge", "negedge"):
                    signal = getattr(sens.sig, "name", None) or str(sens.sig)
                    result.append((module, signal))
        if isinstance(node, vast.InstanceList) and node.module in found:
            todo.append(node.module)
        for child in node.children():
            walk(child, module)

    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            walk(found[name], name)
    return sorted(set(result))


def expected_ports(op, names=("a", "b", "y")) -> list[Port]:
    """What the IR declares for ports a, b (inputs) and y (output), under the given names."""
    graph = op.graph
    ports = []
    for port, name in zip(("a", "b", "y"), names):
        direction = "input" if port in graph.inputs else "output"
        node = graph.nodes[graph.inputs[port] if direction == "input" else graph.outputs[port]]
        ports.append(Port(name, direction, node.width, node.signed))
    return ports


def check_ports(sources, top: str, op, names=("a", "b", "y"), params: dict | None = None,
                require_signed: bool = False) -> list[Port]:
    """Raise a one-line error unless module ``top`` has the operator's ports at the right widths.

    Signedness is only required when ``require_signed`` (a user module may declare unsigned ports:
    the bench drives and reads bit patterns)."""
    found = modules(parse(sources))
    if top not in found:
        raise OpmodelsError(f"no module {top!r} in {', '.join(map(str, sources))} (modules: {', '.join(found)})")
    actual = {p.name: p for p in interface(found[top], params)}
    for want in expected_ports(op, names):
        got = actual.get(want.name)
        if got is None or got.direction != want.direction:
            raise OpmodelsError(f"module {top} has no {want.direction} port {want.name!r} (ports: "
                                f"{', '.join(f'{p.direction} {p.name}' for p in actual.values())}); "
                                "rename with --port-a/--port-b/--port-y")
        if got.width is None:
            raise OpmodelsError(f"module {top}: cannot evaluate the width of port {want.name} (pyverilog reads "
                                "constant expressions over parameters only); install Yosys to read it")
        if got.width != want.width:
            raise OpmodelsError(f"module {top}: port {want.name} is {got.width} bits, {op.id} needs {want.width}")
        if require_signed and got.signed != want.signed:
            raise OpmodelsError(f"module {top}: port {want.name} must be signed")
    return list(actual.values())
