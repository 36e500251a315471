"""The ``opmodels`` command line: one module per command group (:mod:`.catalog`: list, show, gen-lut,
metrics; :mod:`.cost`: cost; :mod:`.rtl`: gen-verilog, verify;
:mod:`.importing`: import), one parser helper and one error
handler (:mod:`.common`). User errors print one line ``opmodels: error: ...`` and exit 2."""
from __future__ import annotations

from . import catalog, cost, importing, rtl
from .common import Commands, Parser, run

GROUPS = (catalog, cost, rtl, importing)


def build_parser() -> Parser:
    parser = Parser(prog="opmodels", description="Approximate arithmetic operators: catalog, LUTs, metrics, "
                                                 "Verilog, co-verification, cost.")
    commands = Commands(parser)
    for group in GROUPS:
        group.add_commands(commands)
    return parser


def main(argv=None) -> int:
    return run(build_parser, argv)

