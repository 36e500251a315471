"""What every command group shares: the parser (whose errors are user errors), the one place where
ids become operators, the progress bar, and the one error handler of ``main``."""
from __future__ import annotations

import argparse
import sys

from .. import catalog
from ..errors import OpmodelsError


MAX_SEED = (1 << 64) - 1  # seeds are 64-bit everywhere; a longer one is a typo, not a wish
MAX_JOBS = 256             # each job is a simulator or Yosys process


def shown(text: str, limit: int = 40) -> str:
    """A user's value quoted for a one-line message (escapes newlines, cut when long)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def integer(low: int, high: int):
    """An argparse type: a decimal integer in ``low..high``. Text, NaN, fractions, negative and huge
    numbers are refused in one line that names the value (argparse prefixes the option)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also more than 4300 digits
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"takes an integer in {low}..{high:,}, not {shown(text)}")
        return value
    parse.__name__ = "integer"
    return parse


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        raise OpmodelsError(message)


class Commands:
    """Adds subcommands that share ``--from`` and ``--ops`` and, where asked, operator ids and ``--all``."""

    def __init__(self, parser: Parser):
        self._sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
        self._byo = Parser(add_help=False)
        self._byo.add_argument("--from", dest="from_", action="append", metavar="MODULE:ATTR",
                               help="load a user operator (an Operator or a function returning one) and register it")
        self._byo.add_argument("--ops", action="append", metavar="DIR",
                               help="an operator directory (<DIR>/<id>.json, written by `opmodels import` or "
                                    "opmodels.store) to find ids in; repeatable; default $OPMODELS_OPS")

    def add(self, name: str, func, help: str, ids: bool = True, all_ids=None) -> Parser:
        sub = self._sub.add_parser(name, help=help, parents=[self._byo])
        sub.set_defaults(func=func, all_ids=all_ids)
        if ids:
            sub.add_argument("ids", nargs="*", metavar="ID", help="operator ids, e.g. M4P8, LOA8, M4P20W16")
        if all_ids:
            sub.add_argument("--all", action="store_true", help="every operator this command applies to")
        return sub


def resolve(args, op_id: str):
    """One id as an operator: registered, built-in, then the operator directories of ``--ops`` (or
    ``$OPMODELS_OPS``). Every command resolves its ids here, so every command takes ``--ops``."""
    return catalog.get(op_id, ops=getattr(args, "ops", None) or None)


def operators(args, allow_all: bool = True) -> list:
    """The operators a command names (ids, ``--all``, ``--from``): strings become operators here."""
    for spec in args.from_ or []:
        op = catalog.load_from(spec)
        if not args.ids and not getattr(args, "all", False):
            args.ids.append(op.id)
    if allow_all and getattr(args, "all", False):
        if args.ids:
            raise OpmodelsError("give operator ids or --all, not both")
        return [resolve(args, i) for i in args.all_ids()]
    if not args.ids:
        raise OpmodelsError("name at least one operator id (see `opmodels list`)" +
                            (" or --all" if allow_all else ""))
    return [resolve(args, i) for i in args.ids]


def progress(items, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the extras, the core does not need it
        return items
    return tqdm(items, desc=desc, unit="op", file=sys.stderr, disable=len(items) < 4)


_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: str) -> str:
    """The promise is one line: a line break that came in with a user's value is shown escaped."""
    return message.translate(_BREAKS)


def run(build_parser, argv=None) -> int:
    """Parse and run one command. A user error is one line ``opmodels: error: ...`` and exit status 2;
    anything else is a bug and keeps its traceback."""
    try:
        args = build_parser().parse_args(argv)
        if not hasattr(args, "ids"):
            args.ids = []
        return args.func(args)
    except OpmodelsError as error:
        print(f"opmodels: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `opmodels list | head`
        sys.stderr.close()
        return 0


def proof_vectors(text: str) -> int | None:
    """``--vectors`` of verify and import: default/all (None: every pair up to 8 + 8 bits, else the
    command's number of seeded random pairs) or a count."""
    from ..verification import MAX_VECTORS  # the CLI's other commands do not load the verifier

    if text in ("default", "all"):
        return None
    if not (text.isascii() and text.isdigit() and 0 < int(text) <= MAX_VECTORS):
        raise OpmodelsError(f"--vectors takes an integer in 1..{MAX_VECTORS:,} or 'all', "
                            f"not {shown(text)}")
    return int(text)
