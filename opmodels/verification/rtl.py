"""The RTL under test, read and checked before any bench is built, so a module that cannot be the
operator is refused in one line and nothing is written: its ports (names, directions, widths), its
parameters, and whether it holds state (flip-flops need ``clock``; a latch is refused).

Yosys reads the design when it is installed (:func:`opmodels.cost.yosys.elaborate`: each file on its
own, parameters applied, hierarchy flattened, processes turned into logic and flip-flops); otherwise,
or when Yosys cannot read a simulation-only construct, pyverilog (:mod:`opmodels.hdl_interface`).
A port whose width neither can read is an error: the check is never skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import hdl_interface
from ..errors import OpmodelsError
from ..hdl_interface import Port, UnparsableVerilog


@dataclass(frozen=True)
class Design:
    """What the bench needs to know of module ``top``: its ports, its parameters, its state."""

    top: str
    ports: dict           # name -> hdl_interface.Port, in declaration order
    parameters: tuple     # names of the module's parameters
    flops: tuple = ()     # (signal or module, clock) of each flip-flop (Yosys) or clocked process (pyverilog)
    latches: tuple = ()   # signals held by latches (found by Yosys only)
    reader: str = ""      # "Yosys 0.23" or "pyverilog"


def _shown(sources) -> str:
    return ", ".join(str(s) for s in sources)


def read_design(sources, top: str, params: dict | None = None) -> Design:
    """Read module ``top`` of ``sources`` (paths) with ``params`` applied."""
    from ..cost.yosys import DesignError, SynthesisError, elaborate, find_yosys
    params = dict(params or {})
    yosys_error = None
    if find_yosys():
        try:
            found = elaborate(list(sources), top, params, name=_shown(sources))
        except DesignError:
            raise
        except SynthesisError as error:  # e.g. `initial forever #1`: Icarus simulates what Yosys refuses
            yosys_error = str(error)
        else:
            ports = {name: Port(name, direction, width, signed)
                     for name, (direction, width, signed) in found["ports"].items()}
            return Design(top, ports, tuple(found["parameters"]), tuple(found["flops"]), tuple(found["latches"]),
                          found["tool"])
    try:
        modules = hdl_interface.modules(hdl_interface.parse(sources))
    except UnparsableVerilog as error:
        raise OpmodelsError(f"cannot read the ports of {top}: {error}"
                            + (f"; Yosys: {yosys_error}" if yosys_error else
                               "; install Yosys (apt-get install yosys) to read it another way")) from None
    if top not in modules:
        raise OpmodelsError(f"no module {top!r} in {_shown(sources)} (modules: {', '.join(modules)})")
    names = hdl_interface.parameters(modules[top])
    unknown = [key for key in params if key not in names]
    if unknown:
        raise OpmodelsError(f"module {top} has no parameter {unknown[0]!r} (its parameters: {', '.join(names) or 'none'})")
    ports = {p.name: p for p in hdl_interface.interface(modules[top], params)}
    return Design(top, ports, tuple(names), tuple(hdl_interface.edge_processes(modules, top)), (), "pyverilog")


def check_design(design: Design, op, names=("a", "b", "y"), clock: str | None = None,
                 ties: dict | None = None) -> None:
    """Raise a one-line error unless ``design`` can be checked against ``op``: the named ports with the
    operator's widths, every other input driven (the clock, or tied with ``ties``), no latch, and
    flip-flops only when a clock is given."""
    top, ports, ties = design.top, design.ports, dict(ties or {})
    listing = ", ".join(f"{p.direction} {p.name}" + (f" [{p.width}]" if p.width and p.width > 1 else "")
                        for p in ports.values())
    for want in hdl_interface.expected_ports(op, names):
        got = ports.get(want.name)
        if got is None or got.direction != want.direction:
            raise OpmodelsError(f"module {top} has no {want.direction} port {want.name!r} (ports: {listing}); "
                                "rename with --port-a/--port-b/--port-y")
        if got.width is None:
            raise OpmodelsError(f"module {top}: cannot evaluate the width of port {want.name} ({design.reader}); "
                                "install Yosys to read it")
        if got.width != want.width:
            raise OpmodelsError(f"module {top}: port {want.name} is {got.width} bits, {op.id} needs {want.width}")
    if clock is not None:
        got = ports.get(clock)
        if got is None or got.direction != "input" or got.width != 1:
            raise OpmodelsError(f"--clock {clock}: module {top} has no 1-bit input {clock!r} (ports: {listing})")
    for name, value in ties.items():
        got = ports.get(name)
        if got is None or got.direction != "input" or name in (*names, clock):
            raise OpmodelsError(f"--tie {name}: module {top} has no other input {name!r} to tie (ports: {listing})")
        if not 0 <= value < (1 << (got.width or 1)):
            raise OpmodelsError(f"--tie {name}={value}: port {name} is {got.width} bits, so 0..{(1 << got.width) - 1}")
    if design.latches:
        raise OpmodelsError(f"module {top} has a latch on {', '.join(design.latches)} ({design.reader}); an operator "
                            "must assign every output bit on every path (an always @* with an incomplete if or "
                            "case?) or be clocked")
    if design.flops and clock is None:
        clocks = list(dict.fromkeys(c for _, c in design.flops))
        held = ", ".join(dict.fromkeys(s for s, _ in design.flops))
        raise OpmodelsError(f"module {top} is sequential: flip-flops on {held} clocked by {', '.join(clocks)}; give "
                            f"--clock {clocks[0]} --latency N (the clock edges from operands to result)")
    loose = [p.name for p in ports.values() if p.direction == "input" and p.name not in (*names, clock, *ties)]
    if loose:
        raise OpmodelsError(f"module {top} has input(s) {', '.join(loose)} that the bench would leave floating; "
                            f"tie them with --tie NAME=VALUE (e.g. --tie {loose[0]}=0 for a reset or an enable)"
                            + ("" if clock or len(loose) > 1 or ports[loose[0]].width != 1 else
                               f", or give --clock {loose[0]} if it is the clock"))
    if any(p.direction not in ("input", "output") for p in ports.values()):
        inout = next(p.name for p in ports.values() if p.direction not in ("input", "output"))
        raise OpmodelsError(f"module {top}: port {inout} is {ports[inout].direction}; the bench drives inputs and "
                            "reads outputs only")


def declared_signedness_note(design: Design, op, names) -> str:
    """A hint for a mismatch report: the RTL declares an operand's signedness unlike the operator's."""
    for port, name in zip((op.a, op.b), names):
        got = design.ports.get(name)
        if got is not None and got.signed != port.signed:
            return (f"the RTL declares {name} {'signed' if got.signed else 'unsigned'}, the operator's {port.name} is "
                    f"{'signed' if port.signed else 'unsigned'} (an operator built with signed={got.signed} "
                    "may be what this RTL computes)")
    return ""


def sources_of(verilog) -> list[Path]:
    """The user's files as absolute paths, each checked to exist."""
    sources = [Path(v).resolve() for v in ([verilog] if isinstance(verilog, (str, Path)) else verilog)]
    if not sources:
        raise OpmodelsError("--verilog needs at least one file")
    for source in sources:
        if source.is_dir():
            raise OpmodelsError(f"Verilog file {str(source)!r} is a directory")
        if not source.is_file():
            raise OpmodelsError(f"Verilog file {str(source)!r} does not exist")
    return sources
