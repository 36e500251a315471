"""``opmodels import``: operators we did not write enter an operator directory (``-o DIR``), each with
the proof of its import against its source.

Each kind of source has its own argument group and function, and :func:`cmd_import` picks one:

* Verilog (:func:`import_verilog_sources`): ``opmodels import FILE... --top T [--param N=V]
  [--port-a A --port-b B --port-y O] [--unsigned | --unsigned-a | --unsigned-b] [--id ID] -o DIR``;
* lookup tables (:func:`import_table`): ``--table FILE --format F [--orientation a,b|b,a]``;
* C models (:func:`import_c_model`): ``--c FILE --function F --operand-order a,b|b,a``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import catalog, importers
from ..cost import DEFAULT_FLOW, MAPPINGS
from ..errors import OpmodelsError
from ..importers import cmodel, tables
from ..lut import FORMATS
from ..operator import KINDS, check_id
from .common import MAX_SEED, integer, proof_vectors, resolve, shown


def parameter(text: str) -> tuple[str, int]:
    """``--param NAME=INTEGER`` (argparse type)."""
    name, sep, value = text.partition("=")
    body = value[1:] if value[:1] in "+-" else value
    if not sep or not name.isidentifier() or not (body.isascii() and body.isdigit()):
        raise argparse.ArgumentTypeError(f"takes NAME=INTEGER, e.g. W=8, not {shown(text)}")
    return name, int(value)


def _signedness(args) -> tuple[bool, bool, bool | None]:
    """(a, b, y) from --signed/--unsigned, --signed-a/--unsigned-a, --signed-b/--unsigned-b: signed by default."""
    if args.signed is not None and (args.sign_a is not None or args.sign_b is not None):
        raise OpmodelsError("--signed/--unsigned set both operands; do not combine them with --signed-a/--unsigned-a/"
                            "--signed-b/--unsigned-b")
    if args.signed is not None:
        return args.signed, args.signed, None
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
                                        vectors=proof_vectors(args.vectors), seed=args.seed, flow=args.flow)
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


def add_table_arguments(sub) -> None:
    group = sub.add_argument_group("lookup tables and C models (docs/formats.md)")
    group.add_argument("--table", metavar="FILE", help="a 2^wa x 2^wb product table (8-bit and narrower)")
    group.add_argument("--format", choices=FORMATS, help="the table's layout (required with --table)")
    group.add_argument("--orientation", choices=tables.ORIENTATIONS,
                       help="a,b: the table's rows are port a; b,a: port b (needed where the format's tool "
                            "reads one table both ways and the table is not symmetric)")
    group.add_argument("--exact", action="store_true", help="the source says the table is the exact product: check it")
    group.add_argument("--reference", metavar="ID", help="an operator (catalog or --ops) the table must equal")
    group.add_argument("--c", dest="c_model", metavar="FILE",
                       help="a C model: imported alone, or with --table the reference the table must equal")
    group.add_argument("--function", help="the C model's function")
    group.add_argument("--operand-order", choices=cmodel.ORDERS,
                       help="which port the C function's first argument is: a,b or b,a (EvoApproxLib's "
                            "unsigned models take port B first)")
    group.add_argument("--widths", metavar="WA,WB", default="8,8", help="the C model's operand widths (default 8,8)")


def _widths(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() and 1 <= int(p) <= 8 for p in parts):
        raise OpmodelsError(f"--widths takes two widths of 1..8 bits, e.g. 8,8 or 8,4; not {shown(text)}")
    return int(parts[0]), int(parts[1])


def _c_table(args):
    if not args.function or not args.operand_order:
        raise OpmodelsError("--c needs --function NAME and --operand-order a,b|b,a (which port the first "
                            "argument is)")
    return cmodel.tabulate(args.c_model, args.function, args.operand_order, _widths(args.widths), args.signed)


def import_table(args):
    """--table (with a --c model or a --reference operator to check it against, when given)."""
    if not args.format:
        raise OpmodelsError(f"--table needs --format, one of {', '.join(FORMATS)}")
    reference, name = None, "the reference"
    if args.c_model and args.reference:
        raise OpmodelsError("give one reference: --c or --reference, not both")
    if args.c_model:
        reference, _, info = _c_table(args)
        name = f"the C model {info['function']}"
    elif args.reference:
        ref = resolve(args, args.reference)
        if max(ref.a.width, ref.b.width) > tables.MAX_OPERAND_WIDTH:
            raise OpmodelsError(f"--reference {ref.id} has {ref.a.width}- and {ref.b.width}-bit operands; "
                                f"tables hold operands of at most 8 bits")
        reference, name = tables.lut_of(ref), f"operator {ref.id}"
    op = tables.import_table(args.table, args.format, args.id, args.orientation, args.signed,
                             reference, name, args.exact)
    return importers.Imported(op, importers.read_sources([args.table] + ([args.c_model] if args.c_model else []),
                                                         what="source file"))


def import_c_model(args):
    if args.orientation or args.exact or args.reference or args.format:
        raise OpmodelsError("--orientation, --format, --exact and --reference apply to --table")
    if not args.function or not args.operand_order:
        raise OpmodelsError("--c needs --function NAME and --operand-order a,b|b,a (which port the first "
                            "argument is)")
    op = cmodel.import_c(args.c_model, args.function, args.operand_order, args.id, _widths(args.widths),
                         args.signed)
    return importers.Imported(op, importers.read_sources([args.c_model], what="C model"))


def import_table_or_c_model(args) -> int:
    """--table or --c: read, check against the reference where one is given, store."""
    if args.id is not None:
        check_id(args.id)
    imported = import_table(args) if args.table else import_c_model(args)
    importers.store(imported, args.output)
    op = imported.op
    proof = op.provenance["proof"]
    zeros = proof["zeros"]
    print(f"imported {op.id}: {op.describe_ports()} {op.kind} from {op.provenance['file']} "
          f"({op.provenance.get('tool') or op.provenance['source']}), {proof['entries']:,} entries")
    for key in ("orientation", "reference", "exact", "method"):
        if key in proof:
            print(f"  {key}: {proof[key]}")
    if zeros["nonzero_P_0_b"] or zeros["nonzero_P_a_0"]:
        print(f"  note: P(0, b) is not 0 for {zeros['nonzero_P_0_b']} b and P(a, 0) for {zeros['nonzero_P_a_0']} a")
    print(f"  stored in {args.output}/{op.id}.json")
    return 0


def cmd_import(args) -> int:
    given = [name for name, present in (("Verilog files", bool(args.sources)), ("--table", args.table is not None),
                                        ("--c", args.c_model is not None and args.table is None)) if present]
    if not given:
        raise OpmodelsError("name what to import: Verilog files (opmodels import mul8s.v --top mul8s -o ops/), "
                            "--table FILE --format F, or --c FILE --function F --operand-order a,b|b,a")
    if len(given) > 1:
        raise OpmodelsError(f"import one kind of source at a time, not {' and '.join(given)}")
    return import_verilog_sources(args) if args.sources else import_table_or_c_model(args)


def add_commands(commands) -> None:
    sub = commands.add("import", cmd_import, "import an operator (Verilog RTL, a lookup table, a C model) into an "
                       "operator directory, proved against its source", ids=False)
    sub.add_argument("-o", "--output", required=True, metavar="DIR",
                     help="the operator directory (<DIR>/<ID>.json and <DIR>/<ID>.src/); use it with --ops DIR")
    sub.add_argument("--id", help="the operator's id (default: the --top module's name)")
    sign = sub.add_mutually_exclusive_group()
    sign.add_argument("--signed", dest="signed", action="store_const", const=True, default=None,
                      help="both operands are two's complement (Verilog: the default; tables: else from the format)")
    sign.add_argument("--unsigned", dest="signed", action="store_const", const=False,
                      help="both operands (and the result) are unsigned")
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
    for port in ("a", "b"):
        group = rtl.add_mutually_exclusive_group()
        group.add_argument(f"--signed-{port}", dest=f"sign_{port}", action="store_const", const=True,
                           help=f"operand {port} is two's complement (the default)")
        group.add_argument(f"--unsigned-{port}", dest=f"sign_{port}", action="store_const", const=False,
                           help=f"operand {port} is unsigned")
    rtl.add_argument("--flow", choices=tuple(MAPPINGS), default=DEFAULT_FLOW,
                     help=f"the Yosys/ABC mapping (default {DEFAULT_FLOW}; see docs/cost.md)")
    add_table_arguments(sub)
