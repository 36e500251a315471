"""CPU kernels: numba loops generated per (product, adder) and cached like the scalar functions.

Each kernel module is one generated file: the loops below with the ``#PRODUCT`` and ``#ACCUMULATE``
markers replaced by statements (a table lookup, ``x * w``, or the multiplier's / adder's IR rendered by
:mod:`opmodels.backends.numba_cpu`), so LLVM sees one loop body it can vectorise and ``cache=True``
holds for the whole file. Every loop keeps the spec's order per output: k ascends in the
accumulation of each output.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..backends import numba_cpu
from . import split

# The line computing p = P(x, w) in LUT and exact mode (behavioural mode pastes the multiplier's
# generated statements instead); x is the activation value, w the weight value, all int64.
LUT_PRODUCT = "p = np.int64(table[x & 255, w & 255])"
EXACT_PRODUCT = "p = x * w"

KERNELS = '''
@numba.njit(cache=True, parallel=True, nogil=True)
def matmul_kernel(xs, ws, table, out):
    # Rows in parallel; for each row, k ascends and the products of x[m, k] update all N accumulators
    # (one table row stays hot, w's row is read contiguously).
    M, K = xs.shape
    N = ws.shape[1]
    for m in numba.prange(M):
        accs = np.zeros(N, np.int64)
        for k in range(K):
            x = xs[m, k]
            for n in range(N):
                w = ws[k, n]
                acc = accs[n]
                #PRODUCT
                #ACCUMULATE
                accs[n] = acc
        out[m, :] = accs


@numba.njit(cache=True, parallel=True, nogil=True)
def conv2d_kernel(xs, ws, table, out, sh, sw, dh, dw, groups):
    # Direct convolution over an input already zero-padded (operand value 0: padded positions are
    # real MACs). One (image, output channel) per task; the (c, i, j) loops run in the spec's
    # row-major order around a plane of Ho x Wo accumulators, so each output sees k in order.
    # The table comes weight-major in memory (table[x, w] at w * 256 + x): the weight is fixed in
    # the inner loops, so one 1 KB table column serves a whole plane.
    N, C, H, W = xs.shape
    O, CG, KH, KW = ws.shape
    HO, WO = out.shape[2], out.shape[3]
    OG = O // groups
    for task in numba.prange(N * O):
        nn = task // O
        o = task % O
        c0 = (o // OG) * CG
        accs = np.zeros((HO, WO), np.int64)
        for c in range(CG):
            plane = xs[nn, c0 + c]
            for i in range(KH):
                for j in range(KW):
                    w = np.int64(ws[o, c, i, j])
                    for oh in range(HO):
                        row = plane[oh * sh + i * dh, j * dw:]
                        accrow = accs[oh]
                        for ow in range(WO):
                            x = np.int64(row[ow * sw])
                            acc = accrow[ow]
                            #PRODUCT
                            #ACCUMULATE
                            accrow[ow] = acc
        out[nn, o] = accs
'''


def product_kind(plan) -> str:
    if plan.mode == "behavioural":
        return f"behavioural_{plan.booth_operand}"
    return plan.mode


def product_lines(plan, renderer, lut_product: str) -> list[str]:
    if plan.mode == "lut":
        return [lut_product]
    if plan.mode == "exact":
        return [EXACT_PRODUCT]
    a, b = ("x", "w") if plan.booth_operand == "w" else ("w", "x")  # b is the Booth-recoded operand
    return renderer.render_statements(plan.multiplier.graph, {"a": a, "b": b}, "p", prefix="m")


def accumulate_lines(plan, renderer) -> list[str]:
    if plan.adder is None:
        return ["acc = acc + p"]  # int64 wraps; the caller reduces modulo 2^acc_width
    return renderer.render_statements(plan.adder.graph, {"a": "acc", "b": "p"}, "acc", prefix="s")


def fill(template: str, blocks: dict[str, list[str]]) -> str:
    """Replace each ``#NAME`` marker line by its block of statements, at the marker's indentation."""
    out = []
    for line in template.splitlines():
        marker = line.strip()
        if marker.startswith("#") and marker[1:] in blocks:
            indent = line[:len(line) - len(line.lstrip())]
            out.extend(indent + statement for statement in blocks[marker[1:]])
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def kernel_module(plan, renderer=numba_cpu.CPU, kernels: str = KERNELS, stem: str = "kernels",
                  lut_product: str = LUT_PRODUCT):
    """The generated module holding ``matmul_kernel`` and ``conv2d_kernel`` for this plan: the
    multiplier's and adder's statements pasted into the loops, so they inline and vectorise."""
    kind = product_kind(plan)
    accumulate = "loa" if plan.adder is not None else "exact"
    # Name only what the text depends on: one LUT kernel module serves every 8-bit multiplier.
    described = plan.multiplier_name if kind.startswith("behavioural") else kind
    key = (id(renderer), kernels, stem, lut_product, kind, described,
           plan.multiplier.ir_hash if kind.startswith("behavioural") else None,
           plan.adder.ir_hash if plan.adder else None, plan.adder.id if plan.adder else None)
    if key not in _modules:  # rendering the text costs more than a small layer's kernel call
        source = (f'"""Generated by opmodels: kernels for multiplier {described}, adder '
                  f'{plan.adder.id if plan.adder else "exact"}."""\n{renderer.header}\n'
                  + fill(kernels, {"PRODUCT": product_lines(plan, renderer, lut_product),
                                   "ACCUMULATE": accumulate_lines(plan, renderer)}))
        _modules[key] = numba_cpu.load_module(source, f"{stem}_{kind}_{accumulate}")
    return _modules[key]


_modules: dict[tuple, object] = {}


def _table(plan) -> np.ndarray:
    # The kernels always take a table argument; a 1x1 dummy where no table is used keeps one signature.
    return plan.table() if plan.mode == "lut" else np.zeros((1, 1), np.int32)


def wrap_result(plan, out: np.ndarray) -> np.ndarray:
    from . import wrap_signed
    return out if plan.adder is not None else wrap_signed(out, plan.acc_width)


def _as_lut(plan, *operands):
    """The exact product of 8-bit operands is the EXACT table's, so it takes the split kernel too."""
    if plan.mode != "exact" or any(a.size and (a.min() < -128 or a.max() > 127) for a in operands):
        return plan
    from ..catalog import get
    return dataclasses.replace(plan, multiplier=get("EXACT"))


def matmul(plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    plan = _as_lut(plan, x, w)
    if split.usable(plan, x.shape[0], w.shape[1]):
        return split.matmul(plan, x, w, out)
    return _into(out, loop_matmul(plan, x, w))


def _into(out, result: np.ndarray) -> np.ndarray:
    if out is None:
        return result
    np.copyto(out, result, casting="unsafe")
    return out


def loop_matmul(plan, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The generated loop kernel (every mode)."""
    xs = np.ascontiguousarray(x, dtype=np.int64)
    ws = np.ascontiguousarray(w, dtype=np.int64)
    out = np.empty((xs.shape[0], ws.shape[1]), np.int64)
    kernel_module(plan).matmul_kernel(xs, ws, _table(plan), out)
    return wrap_result(plan, out)


def conv2d(plan, x, w, stride, padding, dilation, groups, ho, wo, out=None) -> np.ndarray:
    plan = _as_lut(plan, x, w)
    if split.usable(plan, x.shape[0] * ho * wo, w.shape[0] // groups):
        return split.conv2d(plan, x, w, stride, padding, dilation, groups, ho, wo, out)
    return _into(out, direct_conv2d(plan, x, w, stride, padding, dilation, groups, ho, wo))


def direct_conv2d(plan, x, w, stride, padding, dilation, groups, ho, wo) -> np.ndarray:
    """The generated direct-convolution kernel (every mode)."""
    (ph, pw), (n, c, h, wd) = padding, x.shape
    xs = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), np.int16 if plan.operand_range[1] < 2**15 else np.int64)
    xs[:, :, ph:ph + h, pw:pw + wd] = x
    ws = np.ascontiguousarray(w, dtype=np.int64)
    out = np.empty((n, ws.shape[0], ho, wo), np.int64)
    table = np.ascontiguousarray(_table(plan).T).T  # same indexing, weight-major memory
    kernel_module(plan).conv2d_kernel(xs, ws, table, out, *stride, *dilation, groups)
    return wrap_result(plan, out)
