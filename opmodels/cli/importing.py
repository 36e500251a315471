"""``opmodels import``: operators we did not write become stored operators (``-o DIR``), proven
against their source at import.

This module holds the table and C-model sources (:func:`add_table_arguments`, :func:`import_table`,
:func:`import_c_model`); the Verilog sources join the same command in their own argument group.
"""
from __future__ import annotations

from pathlib import Path

from .. import catalog, opsdir
from ..errors import OpmodelsError
from ..files import prepare_directory, write_atomic
from ..importers import cmodel, tables
from ..lut import FORMATS
from .common import shown


def add_table_arguments(sub) -> None:
    group = sub.add_argument_group("lookup tables and C models (docs/formats.md)")
    group.add_argument("--table", metavar="FILE", help="a 2^wa x 2^wb product table (8-bit and narrower)")
    group.add_argument("--format", choices=FORMATS, help="the table's layout (required with --table)")
    group.add_argument("--orientation", choices=tables.ORIENTATIONS,
                       help="a,b: the table's rows are port a; b,a: port b (needed where the format's tool "
                            "reads one table both ways and the table is not symmetric)")
    sign = group.add_mutually_exclusive_group()
    sign.add_argument("--signed", dest="signed", action="store_const", const=True, default=None,
                      help="the operands are signed (two's complement)")
    sign.add_argument("--unsigned", dest="signed", action="store_const", const=False,
                      help="the operands are unsigned")
    group.add_argument("--exact", action="store_true", help="the source says the table is the exact product: check it")
    group.add_argument("--reference", metavar="ID", help="an operator (catalog or --ops) the table must equal")
    group.add_argument("--ops", metavar="DIR", action="append", help="operator directories for --reference")
    group.add_argument("--c", dest="c_model", metavar="FILE",
                       help="a C model: imported alone, or with --table the reference the table must equal")
    group.add_argument("--function", help="the C model's function")
    group.add_argument("--operand-order", choices=cmodel.ORDERS,
                       help="which port the C function's first argument is: a,b or b,a (EvoApproxLib's "
                            "unsigned models take port B first)")
    group.add_argument("--widths", metavar="WA,WB", default="8,8", help="the C model's operand widths (default 8,8)")
    group.add_argument("--id", dest="op_id", help="the imported operator's id (default: the file or function name)")


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
        ref = catalog.get(args.reference, ops=args.ops)
        if max(ref.a.width, ref.b.width) > tables.MAX_OPERAND_WIDTH:
            raise OpmodelsError(f"--reference {ref.id} has {ref.a.width}- and {ref.b.width}-bit operands; "
                                f"tables hold operands of at most 8 bits")
        reference, name = tables.lut_of(ref), f"operator {ref.id}"
    op = tables.import_table(args.table, args.format, args.op_id, args.orientation, args.signed,
                             reference, name, args.exact)
    return op, [args.table] + ([args.c_model] if args.c_model else [])


def import_c_model(args):
    if args.orientation or args.exact or args.reference or args.format:
        raise OpmodelsError("--orientation, --format, --exact and --reference apply to --table")
    if not args.function or not args.operand_order:
        raise OpmodelsError("--c needs --function NAME and --operand-order a,b|b,a (which port the first "
                            "argument is)")
    op = cmodel.import_c(args.c_model, args.function, args.operand_order, args.op_id, _widths(args.widths),
                         args.signed)
    return op, [args.c_model]


def store_imported(op, sources, output) -> None:
    """The operator file and copies of its sources (``<DIR>/<id>.src/``); every check is done before."""
    if catalog.is_builtin(op.id):
        raise OpmodelsError(f"{op.id!r} is a built-in catalog id; give the imported operator another id (--id)")
    directory = prepare_directory(output, [f"{op.id}.json"], option="-o")
    source_dir = opsdir.sources_of(directory, op.id)
    source_dir.mkdir(exist_ok=True)
    for source in sources:
        write_atomic(source_dir / Path(source).name, Path(source).read_bytes())
    catalog.store(op, directory)


def cmd_import(args) -> int:
    if args.table is None and args.c_model is None:
        raise OpmodelsError("name what to import: --table FILE --format F, or --c FILE --function F "
                            "--operand-order a,b|b,a")
    op, sources = import_table(args) if args.table else import_c_model(args)
    store_imported(op, sources, args.output)
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


def add_commands(commands) -> None:
    sub = commands.add("import", cmd_import, "import an operator from a lookup table or a C model", ids=False)
    sub.add_argument("-o", "--output", default="ops", help="the operator directory (default: ops)")
    add_table_arguments(sub)
