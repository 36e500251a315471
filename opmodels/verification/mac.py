"""The clocked MAC check: random streams of products through ``hdl/opm_mac.v`` (package data), built
from the generated modules of a multiplier and an adder or from the hand-written reference modules,
compared after each stream with spec section 8:
``acc_{k+1} = ADD_w(acc_k, sext_w(P(a_k, b_k)))``, ``acc_0 = 0``.

The streams and their expected accumulators are computed here and handed to the cocotb bench
(``streams.npz``), which adds the timing noise (idle cycles, a clear between streams).
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import artifacts
from ..errors import OpmodelsError
from ..files import prepare_directory, write_atomic
from ..operator import Operator
from . import simulator
from .combinational import require_operator
from .comparison import Result

RTL = ("generated", "handwritten")
MAX_MAC_PRODUCTS = 1_000_000  # streams x k: the bench steps the clock from Python, about 10^4 cycles/s


def mac_model(mul: Operator, add: Operator, a, b) -> np.ndarray:
    """Spec section 8 over the last axis of ``a``, ``b`` (one stream per row), in stream order. The
    adder is at least as wide as the product, so sext_w leaves every product as it is."""
    products = mul.evaluate(a, b)
    acc = np.zeros(products.shape[:-1], dtype=np.int64)
    for k in range(products.shape[-1]):
        acc = add.evaluate(acc, products[..., k])
    return acc


def mac_streams(mul: Operator, add: Operator, streams: int, k: int, seed: int = 0):
    """(a, b, expected): ``streams`` seeded random streams of ``k`` operand pairs, the first made of
    the extremes (so the accumulator wraps at w bits), and each stream's final accumulator."""
    rng = np.random.default_rng(seed)
    a = rng.integers(*mul.a.range, (streams, k), endpoint=True, dtype=np.int64)
    b = rng.integers(*mul.b.range, (streams, k), endpoint=True, dtype=np.int64)
    a[0], b[0] = mul.a.range[0], mul.b.range[0]
    return a, b, mac_model(mul, add, a, b)


def _check_mac(mul: Operator, add: Operator, rtl: str) -> None:
    if mul.kind != "multiplier" or add.kind != "adder" or add.y.width < mul.y.width:
        raise OpmodelsError(f"a MAC needs a multiplier and an adder at least as wide as its product, "
                            f"not {mul.id} ({mul.kind}) and {add.id} ({add.kind}, {add.y.width} bits)")
    if mul.a.width != mul.b.width or not (mul.a.signed and mul.b.signed and add.a.signed):
        raise OpmodelsError(f"the MAC of opm_mac.v takes signed operands of one width; {mul.id} has "
                            f"{mul.describe_ports()}, {add.id} {add.describe_ports()}")
    if rtl not in RTL:
        raise OpmodelsError(f"rtl must be 'generated' or 'handwritten', not {rtl!r}")
    if rtl == "handwritten" and (mul.family != "BoothR4" or mul.params.get("p") != 0 or add.family != "LOA"):
        raise OpmodelsError(f"the hand-written MAC has an exact Booth multiplier and a LOA; {mul.id} and {add.id} "
                            "are not (use --mac-rtl generated)")


def verify_mac(mul: Operator, add: Operator, rtl: str = "generated", streams: int = 20, k: int = 64,
               seed: int = 0, sim: str = "icarus", work_dir=None) -> Result:
    """Random streams of ``k`` products through the clocked MAC of ``hdl/opm_mac.v``, built from the
    generated modules of ``mul`` and ``add`` (``rtl="generated"``) or from the hand-written
    ``opm_booth_r4`` (exact only) and ``opm_loa`` (``rtl="handwritten"``)."""
    require_operator(mul)
    require_operator(add)
    _check_mac(mul, add, rtl)
    if streams < 1 or k < 1 or streams * k > MAX_MAC_PRODUCTS:
        raise OpmodelsError(f"streams and k must be positive, with at most {MAX_MAC_PRODUCTS:,} products in all, "
                            f"not {streams} and {k}")
    simulator.require_simulator(sim)
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-mac-{mul.id}-{add.id}-")).resolve()
    prepare_directory(work, option="build directory")
    if rtl == "generated":
        sources = [artifacts.write_verilog(mul, work), artifacts.write_verilog(add, work)]
        defines = {"OPM_MAC_MUL": artifacts.module_name(mul), "OPM_MAC_ADD": artifacts.module_name(add)}
    else:
        sources = [simulator.hdl_file("opm_booth_r4.v"), simulator.hdl_file("opm_loa.v")]
        defines = {"OPM_MAC_MUL": "opm_booth_r4", "OPM_MAC_MUL_PARAMS": f".N({mul.width})",
                   "OPM_MAC_ADD": "opm_loa", "OPM_MAC_ADD_PARAMS": f".W({add.width}),.L({add.params['l']})"}
    a, b, expected = mac_streams(mul, add, streams, k, seed)
    buffer = io.BytesIO()
    np.savez(buffer, a=a, b=b, expected=expected, seed=seed, operand_range=mul.a.range)
    check, summary = write_atomic(work / "streams.npz", buffer.getvalue()), work / "summary.json"
    summary.unlink(missing_ok=True)
    what = f"the MAC with {mul.id} and {add.id}"
    start = time.perf_counter()
    log = simulator.run_bench("mac", sources=[*sources, simulator.hdl_file("opm_mac.v")], top="opm_mac",
                              env={"OPM_CHECK": str(check), "OPM_SUMMARY": str(summary)}, work=work, what=what,
                              sim=sim, defines=defines, parameters={"N": mul.width, "W": add.width})
    if not summary.is_file():
        raise OpmodelsError(f"the bench of {what} ended without a result; see {log}")
    s = json.loads(summary.read_text())
    result = Result(f"{mul.id}+{add.id}", f"opm_mac ({rtl})", s["vectors"], s["mismatches"], s["counterexamples"],
                    time.perf_counter() - start, str(log))
    if result.passed and work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
        result.log = ""
    return result
