"""``opmodels import``: operators from outside the DSL enter an operator directory, each with its proof.

Verilog sources (:func:`import_verilog_sources`): ``opmodels import FILE... --top T [--param N=V]
[--port-a A --port-b B --port-y O] [--unsigned | --unsigned-a | --unsigned-b] [--id ID] -o DIR``.
Each kind of source has its own argument group and function; :func:`cmd_import` picks one.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import catalog, importers, verification
from ..cost import DEFAULT_FLOW, MAPPINGS
from ..errors import OpmodelsError
from ..operator import KINDS, check_id
from .common import MAX_SEED, integer, shown


def parameter(text: str) -> tuple[str, int]:
    """``--param NAME=INTEGER`` (argparse type)."""
    name, sep, value = text.partition("=")
    body = value[1:] if value[:1] in "+-" else value
    if not sep or not name.isidentifier() or not (body.isascii() and body.isdigit()):
        raise argparse.ArgumentTypeError(f"takes NAME=INTEGER, e.g. W=8, not {shown(text)}")
    return name, int(value)


def _vectors(text: str) -> int | None:
    if text in ("default", "all"):
        return None
    if not (text.isascii() and text.isdigit() and 0 < int(text) <= verification.MAX_VECTORS):
        raise OpmodelsError(f"--vectors takes 'default' or an integer in 1..{verification.MAX_VECTORS:,}, "
                            f"not {shown(text)}")
    return int(text)


def _signedness(args) -> tuple[bool, bool, bool | None]:
    """(a, b, y) from --unsigned, --signed-a/--unsigned-a, --signed-b/--unsigned-b: signed by default."""
    if args.unsigned and (args.sign_a is not None or args.sign_b is not None):
        raise OpmodelsError("--unsigned makes both operands unsigned; do not combine it with --signed-a/--unsigned-a/"
                            "--signed-b/--unsigned-b")
    if args.unsigned:
        return False, False, None
    return (True if args.sign_a is None else args.sign_a), (True if args.sign_b is None else args.sign_b), None


def _check_output(output: str, op_id: str) -> None:
    """-o before any work, without creating anything (a failed import writes nothing)."""
    path = Path(output)
    if not output.strip():
        raise OpmodelsError(f"-o needs a directory name, not {output!r}")
    if path.exists() and not path.is_dir():
        raise OpmodelsError(f"-o {output!r} is a file, not a directory")
    if catalog.is_builtin(op_id):
        raise OpmodelsError(f"{op_id!r} is a built-in catalog id; give the imported operator another id with --id")


def import_verilog_sources(args) -> int:
    """Synthesise, lower and prove module --top of the Verilog files; store it when the proof passed."""
    if not args.top:
        raise OpmodelsError("importing Verilog needs --top, the name of the module to import")
    op_id = check_id(args.id or args.top)
    _check_output(args.output, op_id)
    params = dict(args.param)
    if len(params) != len(args.param):
        raise OpmodelsError("a --param is given twice")
    start = time.perf_counter()
    imported = importers.import_verilog(args.sources, args.top, ports=(args.port_a, args.port_b, args.port_y),
                                        signed=_signedness(args), params=params, op_id=op_id, kind=args.kind,
                                        vectors=_vectors(args.vectors), seed=args.seed, flow=args.flow)
    op, proof = imported.op, imported.proof
    synthesis = op.provenance["synthesis"]
    print(f"{op.id}: {op.describe_ports()} {op.kind} from module {args.top} "
          f"({', '.join(s.name for s in imported.sources)})")
    print(f"  synthesis: {synthesis['tool']}, {sum(synthesis['cells'].values())} cells, area "
          f"{synthesis['area_nand2']} NAND2 eq., {len(op.graph.nodes)} IR nodes")
    print(f"  proof: {proof['vectors']} vectors ({proof['pairs']}) simulated from the source by "
          f"{proof['tools']['simulator']}: {proof['mismatches']} mismatches "
          f"{'ok' if imported.passed else 'FAILED'}")
    if not imported.passed:
        print("  first counterexamples (a, b, imported operator, simulation of the source):")
        for a, b, want, got in proof["counterexamples"][:10]:
            print(f"    a={a} b={b} imported={want} source={'x' if got is None else got}")
        print("  the synthesised module and the simulated source disagree (synthesis/simulation mismatch: "
              "an incomplete sensitivity list, x or z values, `ifdef SYNTHESIS, initial blocks, ...); "
              "nothing written")
        if proof.get("log"):
            print(f"  simulation log: {proof['log']}")
        return 1
    path = importers.store(imported, args.output)
    print(f"wrote {path} and {path.with_suffix('.src')}/ in {time.perf_counter() - start:.1f} s "
          f"(use it with --ops {args.output})")
    return 0


def cmd_import(args) -> int:
    if args.sources:
        return import_verilog_sources(args)
    raise OpmodelsError("name the Verilog file(s) to import, e.g. opmodels import mul8s.v --top mul8s -o ops/")


def add_commands(commands) -> None:
    sub = commands.add("import", cmd_import, "import an operator (Verilog RTL) into an operator directory, "
                       "proved against its source", ids=False)
    sub.add_argument("-o", "--output", required=True, metavar="DIR",
                     help="the operator directory (<DIR>/<ID>.json and <DIR>/<ID>.src/); use it with --ops DIR")
    sub.add_argument("--id", help="the operator's id (default: the --top module's name)")
    sub.add_argument("--kind", choices=KINDS, default="multiplier", help="multiplier (default) or adder")
    sub.add_argument("--vectors", default="default",
                     help="proof vectors: every pair up to 8 + 8 bits; wider: this many seeded random pairs "
                          f"plus corners (default {importers.verilog.PROOF_RANDOM_VECTORS})")
    sub.add_argument("--seed", type=integer(0, MAX_SEED), default=0, help="seed of the random proof vectors")
    rtl = sub.add_argument_group("Verilog sources", "combinational RTL, synthesised with Yosys and proved by "
                                                    "simulating the source with Icarus")
    rtl.add_argument("sources", nargs="*", metavar="FILE.v", help="the Verilog files (several for a hierarchy)")
    rtl.add_argument("--top", help="the module to import")
    rtl.add_argument("--param", action="append", default=[], type=parameter, metavar="NAME=VALUE",
                     help="a parameter of the --top module, e.g. --param W=8 (repeat for several)")
    rtl.add_argument("--port-a", default="a", metavar="PORT", help="the RTL's port of operand a (default a)")
    rtl.add_argument("--port-b", default="b", metavar="PORT", help="the RTL's port of operand b (default b)")
    rtl.add_argument("--port-y", default="y", metavar="PORT", help="the RTL's result port (default y)")
    rtl.add_argument("--unsigned", action="store_true", help="both operands (and the result) are unsigned")
    for port in ("a", "b"):
        group = rtl.add_mutually_exclusive_group()
        group.add_argument(f"--signed-{port}", dest=f"sign_{port}", action="store_const", const=True,
                           help=f"operand {port} is two's complement (the default)")
        group.add_argument(f"--unsigned-{port}", dest=f"sign_{port}", action="store_const", const=False,
                           help=f"operand {port} is unsigned")
    rtl.add_argument("--flow", choices=tuple(MAPPINGS), default=DEFAULT_FLOW,
                     help=f"the Yosys/ABC mapping (default {DEFAULT_FLOW}; see docs/cost.md)")
