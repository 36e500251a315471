"""Integer matmul and conv2d on approximate multipliers and adders, bit for bit what the hardware MACs give.

Public entry points: :func:`matmul` and :func:`conv2d`. Each output is the multiply-accumulate of spec
section 8: ``acc = ADD_w(acc, sext_w(P(a_k, b_k)))`` for k in order, read as a signed ``acc_width``-bit
integer, returned as int64. By default the weight ``w`` is the Booth-recoded multiplier operand ``b`` and
the activation ``x`` the multiplicand ``a``; ``booth_operand="x"`` swaps the roles.

Modes (chosen from the operator; only the exact product of operands that fit 8 bits switches, by
the data, to the EXACT table's split kernel, which gives the same numbers):

- LUT mode: an 8-bit multiplier is its 256 x 256 table (spec section 6). On the CPU each weight's
  table column is split into two 16- or 32-entry tables indexed by parts of the activation, so a MAC
  row is two contiguous vector adds (see :mod:`.tables` and :mod:`.split`); a table without such a
  split gets whole-column rows (one vector add per MAC row). The tables are built once per layer's
  weights and kept. Every output still accumulates k in order, so LOA accumulation runs in the same loop.
- Behavioural mode: a wider multiplier runs its generated scalar function (no table exists).
- ``multiplier=opmodels.EXACT_PRODUCT``: the exact product a*b of any int32 operands. (The catalog's
  ``"EXACT"`` is the 8-bit exact Booth multiplier: its operands are checked like any 8-bit operator's.)

One path per call, one module per stage: :mod:`.planning` checks the arguments and picks the mode
and the kernel -> :mod:`.generate` renders and loads the kernel module (memoised) -> :mod:`.cpu`,
:mod:`.split` or :mod:`.cuda` runs it. :mod:`.geometry` holds the convolution index arithmetic,
:mod:`.tables` an 8-bit multiplier's tables. Operator ids are resolved here, at the public entry,
and nowhere below it.

Zero padding in :func:`conv2d` feeds operand value 0 to the multiplier: padded positions are real MACs,
contributing P(0, w) (or P(w, 0) with ``booth_operand="x"``), exactly like hardware that streams zeros.
For approximate multipliers P(0, w) is not always 0 (M1P8 gives P(0, -42) = -255).
"""
from __future__ import annotations

import numpy as np

from ..catalog import get
from ..errors import OpmodelsError
from ..operator import EXACT_PRODUCT, ExactProduct, Operator
from . import chunks, cpu, cuda, planning, split
from .geometry import ConvGeometry, conv_geometry
from .planning import Plan

__all__ = ["EXACT_PRODUCT", "ConvGeometry", "Plan", "bmm", "conv2d", "conv_geometry", "matmul", "plan"]

RUNNERS = {"loop": cpu, "split": split, "chunks": chunks}  # _route's answer -> the module that runs it
# A batched product builds its split tables every call (its "weights" are activations): per step and
# matrix about (16 + 16 rows) x NB entries, NB = N rounded up to a power of two >= 8, shared by the M
# rows. Measured (single-thread CPU time, M4P8, K 32..128, docs/performance.md): the gather loop wins
# at 16 and 65 rows (0.6-0.8 ns/MAC against 1.2-1.8), the split tables from about 100 rows (0.2-0.4
# ns/MAC at 128-1024 rows) - when the tables of all matrices of one step stay in cache, so the batch
# is cut into slices whose tables take at most BMM_TABLE_BYTES per step (without slices, 96 matrices
# of 197 x 64 x 197 ran 10% slower than the gather loop).
BMM_SPLIT_MIN_ROWS = 96
BMM_TABLE_BYTES = 256 << 10
CHUNK_MIN_ROWS = 4  # fewer activation rows: the scalar function costs less than staging the tables


def _multiplier(multiplier) -> Operator | ExactProduct:
    return multiplier if multiplier is EXACT_PRODUCT else get(multiplier)


def _adder(adder) -> Operator | None:
    if adder is None or (isinstance(adder, str) and adder.strip().lower() == "exact"):
        return None
    return get(adder)


def plan(multiplier="M4P8", adder="exact", acc_width=32, backend="cpu", booth_operand="w") -> Plan:
    """Resolve the operators (an id, an ``Operator``, ``EXACT_PRODUCT``; adder ``"exact"`` or None for
    the exact adder) and check the arguments shared by :func:`matmul` and :func:`conv2d`."""
    return planning.plan(_multiplier(multiplier), _adder(adder), acc_width, backend, booth_operand)


def _route(p: Plan, rows: int, outputs: int, x, w) -> tuple[str, Plan]:
    """planning.route, and wide operands whose chunk split is proven from the IR (see :mod:`.chunks`)
    take the chunk-table kernel instead of the per-MAC scalar function."""
    kernel, p = planning.route(p, rows, outputs, x, w)
    if kernel == "loop" and rows >= CHUNK_MIN_ROWS and chunks.applies(p):
        return "chunks", p
    return kernel, p


def matmul(x, w, multiplier="M4P8", adder="exact", acc_width=32, backend="cpu", booth_operand="w", out=None):
    """``out[m, n] = MAC over k of P(x[m, k], w[k, n])`` on the given operators (spec section 8).

    x: integer [M, K] (the multiplicand values, or the Booth-recoded values with ``booth_operand="x"``);
    w: integer [K, N]. Returns the signed ``acc_width``-bit results as int64 [M, N]; with
    ``backend="cuda"`` x and w are device arrays and so is the result. ``out``: an [M, N] array of dtype
    int64, int32, float64 or float32 that receives the results, converted to its dtype (a C-contiguous
    numpy array on the CPU; with ``backend="cuda"`` any device array, e.g. a torch CUDA tensor).

    Batched (CPU): x [B, M, K] with w [B, K, N] (one matrix per batch entry) or a shared w [K, N]
    gives [B, M, N] from ONE kernel call (see :func:`bmm`).
    """
    if backend == "cpu" and getattr(x, "ndim", 2) == 3:
        return bmm(x, w, multiplier, adder, acc_width, backend, booth_operand, out)
    p = plan(multiplier, adder, acc_width, backend, booth_operand)
    if p.backend == "cuda":
        return cuda.matmul(p, x, w, out)
    x = planning.host_array("x", x, 2, "[M, K] (or [B, M, K], a batch)")
    w = planning.host_array("w", w, 2, "[K, N]")
    planning.check_matmul_shapes(x, w)
    planning.check_range(p, "x", x)
    planning.check_range(p, "w", w)
    out = planning.out_array(out, (x.shape[0], w.shape[1]))
    kernel, p = _route(p, x.shape[0], w.shape[1], x, w)
    return RUNNERS[kernel].matmul(p, x, w, out)


def bmm(x, w, multiplier="M4P8", adder="exact", acc_width=32, backend="cpu", booth_operand="w", out=None):
    """A batch of products in one kernel call: ``out[b, m, n] = MAC over k of P(x[b, m, k], w[b, k, n])``.

    x: integer [B, M, K]; w: integer [B, K, N], or [K, N] shared by every batch entry (then it is one
    [B*M, K] @ [K, N] matmul, with cached tables). Returns int64 [B, M, N] (or ``out`` filled, as in
    :func:`matmul`). CPU only. Each w[b] is an activation that changes every call (attention's
    products), so the kernel is chosen by shape: the split tables of all B matrices, built in one
    parallel call and not kept, where enough rows share them (M >= BMM_SPLIT_MIN_ROWS); otherwise one
    (b, m) row per task reading the 256 x 256 table (or the behavioural / exact product, or the LOA
    statements) directly. Below ``generate.SERIAL_MACS`` MACs the kernels run serially.
    """
    p = plan(multiplier, adder, acc_width, backend, booth_operand)
    if p.backend != "cpu":
        raise OpmodelsError("batched products (3-D x) run on the CPU; on CUDA call matmul per matrix")
    x = planning.host_array("x", x, 3, "[B, M, K]")
    w = np.asarray(w)
    if w.ndim == 2:
        b, m, k = x.shape
        if k != w.shape[0]:
            raise OpmodelsError(f"shape mismatch: x is [B, M, K] = {tuple(x.shape)} and w is [K, N] = "
                                f"{tuple(w.shape)}; K must agree ({k} != {w.shape[0]})")
        flat = None if out is None else planning.out_array(out, (b, m, w.shape[1])).reshape(b * m, w.shape[1])
        result = matmul(x.reshape(b * m, k), w, p.multiplier, p.adder or "exact", acc_width, backend,
                        booth_operand, flat)
        return out if out is not None else result.reshape(b, m, w.shape[1])
    w = planning.host_array("w", w, 3, "[B, K, N] or [K, N]")
    if x.shape[0] != w.shape[0] or x.shape[2] != w.shape[1]:
        raise OpmodelsError(f"shape mismatch: x is [B, M, K] = {tuple(x.shape)} and w is [B, K, N] = "
                            f"{tuple(w.shape)}; B and K must agree")
    planning.check_range(p, "x", x)
    planning.check_range(p, "w", w)
    b, m, _ = x.shape
    out = planning.out_array(out, (b, m, w.shape[2]))
    kernel, routed = planning.route(p, m, w.shape[2], x, w)
    if kernel == "split" and m >= BMM_SPLIT_MIN_ROWS and x.size:
        return _split_bmm(routed, x, w, out)
    return cpu.bmm(p, x, w, out)


def _split_bmm(p: Plan, x, w, out):
    """split.bmm over slices of the batch whose per-step tables fit BMM_TABLE_BYTES (one call when all do)."""
    b, m, _ = x.shape
    n = w.shape[2]
    per_matrix = split.step_table_bytes(p, n)
    size = max(1, BMM_TABLE_BYTES // per_matrix)
    if size >= b:
        return split.bmm(p, x, w, out)
    out = np.empty((b, m, n), np.int64) if out is None else out
    for start in range(0, b, size):
        split.bmm(p, x[start:start + size], w[start:start + size], out[start:start + size])
    return out


def conv2d(x, w, multiplier="M4P8", adder="exact", acc_width=32, stride=1, padding=0, dilation=1, groups=1,
           backend="cpu", booth_operand="w", out=None):
    """A 2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) whose every MAC is
    the given multiplier and adder, accumulating over (input channel in the group, kernel row, kernel
    column) in row-major order (spec section 8).

    x: integer [N, C, H, W]; w: integer [O, C/groups, kh, kw]. stride, padding, dilation: an int or a
    pair. Zero padding feeds operand value 0 (see the module doc). Returns int64 [N, O, Ho, Wo], or
    ``out`` filled (see :func:`matmul`).
    """
    p = plan(multiplier, adder, acc_width, backend, booth_operand)
    if p.backend == "cuda":
        return cuda.conv2d(p, x, w, stride, padding, dilation, groups, out)
    x = planning.host_array("x", x, 4, "[N, C, H, W]")
    w = planning.host_array("w", w, 4, "[O, C/groups, kh, kw]")
    geometry = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    planning.check_range(p, "x", x)
    planning.check_range(p, "w", w)
    out = planning.out_array(out, (x.shape[0], w.shape[0], geometry.ho, geometry.wo))
    kernel, p = _route(p, x.shape[0] * geometry.ho * geometry.wo, w.shape[0] // geometry.groups, x, w)
    return RUNNERS[kernel].conv2d(p, x, w, geometry, out)
