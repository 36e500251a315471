"""C models -> tables -> operators: a C function ``P(first, second)`` compiled with the system C
compiler and run on every operand pair.

EvoApproxLib's C models come in two conventions: the unsigned ones are ``uint64_t mul8u_X(const
uint64_t B, const uint64_t A)`` (the Verilog port B first), the signed ones ``int16_t mul8s_X(int8_t A,
int8_t B)``. Which port the first argument is cannot be read from the C text reliably, so the user says
it (``operand_order="b,a"``: the first argument is port b). Operand signedness comes from the
parameter types when they are 8- or 16-bit types (``int8_t`` is signed, ``uint8_t`` unsigned); from
wider types (``uint64_t``) it cannot be told, and ``signed`` must be given.

The model is compiled into a small driver (``#include`` of the user's file, so ``static`` functions
work; a ``main`` of theirs is renamed) that writes the 2^wa x 2^wb results as int64 to a file; the
compiler and the run are bounded by ``$OPMODELS_TOOL_TIMEOUT`` (:mod:`opmodels.tools`). The result is
taken modulo 2^(wa+wb), the result port's width, and must fit it signed or unsigned.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import tools
from ..errors import OpmodelsError
from ..operator import Operator, Port, check_id
from .tables import check_range, result_port, table_operator, zero_check

ORDERS = ("a,b", "b,a")
_NARROW_TYPES = {"int8_t": True, "uint8_t": False, "int16_t": True, "uint16_t": False,
                 "signed char": True, "unsigned char": False, "short": True, "unsigned short": False}
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def compiler() -> str:
    """The system C compiler: ``$CC``, else gcc, else cc."""
    for candidate in (os.environ.get("CC"), "gcc", "cc"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise OpmodelsError("no C compiler found ($CC, gcc or cc): install gcc to import a C model")


def parameter_signedness(text: str, function: str) -> tuple[bool | None, bool | None, str]:
    """The signedness each parameter's type tells (None: a wide or unknown type), and the prototype."""
    code = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    match = re.search(rf"\b{re.escape(function)}\s*\(([^()]*)\)\s*\{{", code)
    if match is None:
        raise OpmodelsError(f"the C file has no definition of function {function!r} (a name followed by its "
                            f"parameters and a body)")
    params = [p.strip() for p in match.group(1).split(",")]
    if len(params) != 2:
        raise OpmodelsError(f"{function} takes {len(params)} parameter(s) ({match.group(1).strip()!r}); a C model "
                            f"of an operator takes two operands")
    kinds = []
    for param in params:
        words = [w for w in re.sub(r"[*&]", " ", param).split() if w not in ("const", "volatile", "register")]
        type_ = " ".join(words[:-1]) if len(words) > 1 else " ".join(words)
        kinds.append(_NARROW_TYPES.get(type_))
    return kinds[0], kinds[1], " ".join(match.group(0)[:-1].split())


def tabulate(path, function: str, operand_order: str, widths=(8, 8), signed: bool | None = None,
             ) -> tuple[np.ndarray, tuple[bool, bool], dict]:
    """``t[a pattern][b pattern]`` of the C model, the operands' signedness and what was run."""
    path = Path(path)
    if not _IDENTIFIER.fullmatch(function or ""):
        raise OpmodelsError(f"--function takes a C identifier, not {function!r}")
    if operand_order not in ORDERS:
        raise OpmodelsError(f"--operand-order takes a,b (the first argument is port a) or b,a, not {operand_order!r}")
    wa, wb = widths
    if not (1 <= wa <= 8 and 1 <= wb <= 8):
        raise OpmodelsError(f"C models are tabulated for operands of 1..8 bits, not {wa} and {wb}")
    try:
        text = path.read_text()
    except OSError as error:
        raise OpmodelsError(f"cannot read C model {str(path)!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise OpmodelsError(f"C model {str(path)!r} is not a text file") from None
    first, second, prototype = parameter_signedness(text, function)
    by_port = (first, second) if operand_order == "a,b" else (second, first)
    told = {s for s in by_port if s is not None}
    if len(told) > 1:
        raise OpmodelsError(f"{function}'s parameters mix signed and unsigned types ({prototype}); "
                            f"mixed operands are not supported for C models")
    if told and signed is not None and told != {signed}:
        raise OpmodelsError(f"{function}'s parameter types are {'signed' if signed is False else 'unsigned'} "
                            f"({prototype}); --{'signed' if signed else 'unsigned'} contradicts them")
    if not told and signed is None:
        raise OpmodelsError(f"cannot tell whether {function}'s operands are signed from {prototype!r}: pass "
                            f"--signed or --unsigned")
    sign = told.pop() if told else signed
    ports = (Port("a", wa, sign), Port("b", wb, sign))
    a_values, b_values = (p.read(np.arange(1 << p.width)) for p in ports)
    first_arg, second_arg = ("a", "b") if operand_order == "a,b" else ("b", "a")
    driver = f"""#define main opmodels_user_main
#include "{path.resolve()}"
#undef main
#include <stdio.h>
static const long long A[] = {{{", ".join(map(str, a_values.tolist()))}}};
static const long long B[] = {{{", ".join(map(str, b_values.tolist()))}}};
int main(int argc, char **argv) {{
    FILE *out = fopen(argv[1], "wb");
    if (!out) return 3;
    for (int i = 0; i < {1 << wa}; i++)
        for (int j = 0; j < {1 << wb}; j++) {{
            long long a = A[i], b = B[j];
            long long y = (long long)({function}({first_arg}, {second_arg}));
            if (fwrite(&y, sizeof y, 1, out) != 1) return 4;
        }}
    return fclose(out) == 0 ? 0 : 5;
}}
"""
    cc = compiler()
    with tempfile.TemporaryDirectory(prefix="opmodels-c-") as work:
        work = Path(work)
        (work / "driver.c").write_text(driver)
        built = tools.run([cc, "-O1", "-w", "-o", str(work / "model"), str(work / "driver.c")],
                          what=f"compiling {path.name}", cwd=work)
        if built.returncode != 0:
            first_error = next((line for line in built.stderr.splitlines() if "error" in line), built.stderr.strip())
            raise OpmodelsError(f"{path.name} does not compile with {Path(cc).name}: "
                                f"{first_error.replace(str(work) + '/', '')[:200]}")
        ran = tools.run([str(work / "model"), str(work / "table.bin")], what=f"running {function}", cwd=work)
        if ran.returncode != 0:
            raise OpmodelsError(f"{function} did not run through all pairs (exit status {ran.returncode})")
        results = np.fromfile(work / "table.bin", dtype="<i8")
    if results.size != (1 << wa) * (1 << wb):
        raise OpmodelsError(f"{function} gave {results.size} results, not {(1 << wa) * (1 << wb)}")
    y = result_port((1 << wa, 1 << wb), (sign, sign))
    fits = (results >= -(1 << (y.width - 1))) & (results < (1 << y.width))
    if not fits.all():
        i = int(np.flatnonzero(~fits)[0])
        raise OpmodelsError(f"{function}({first_arg}={a_values[i >> wb] if first_arg == 'a' else b_values[i % (1 << wb)]}, "
                            f"...) = {results[i]} does not fit the {y.width}-bit result (signed or unsigned)")
    values = y.read(results).reshape(1 << wa, 1 << wb)  # the result's low bits, read as the port reads them
    info = {"function": function, "prototype": prototype, "operand_order": operand_order,
            "first_argument": f"port {operand_order[0]}", "compiler": Path(cc).name}
    return values, (sign, sign), info


def import_c(path, function: str, operand_order: str, op_id: str | None = None, widths=(8, 8),
             signed: bool | None = None) -> Operator:
    """The operator of a C model: tabulated on every pair, the table is the operator (nothing written)."""
    path = Path(path)
    op_id = check_id(op_id or function)
    values, pair, info = tabulate(path, function, operand_order, widths, signed)
    check_range(values, pair, op_id)
    proof = {"passed": True, "entries": int(values.size), "method": f"compiled with {info['compiler']} and run on all "
             f"{values.size:,} operand pairs; the operator is that table", "zeros": zero_check(values, pair),
             "mean_abs_error_vs_exact": float(np.mean(np.abs(values - _product(values.shape, pair))))}
    provenance = {"source": "C model", "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                  **info, "proof": proof}
    return table_operator(op_id, values, pair, provenance)


def _product(shape, signed) -> np.ndarray:
    a = Port("a", shape[0].bit_length() - 1, signed[0]).read(np.arange(shape[0]))
    b = Port("b", shape[1].bit_length() - 1, signed[1]).read(np.arange(shape[1]))
    return a[:, None] * b[None, :]
