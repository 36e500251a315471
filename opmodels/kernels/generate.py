"""Generate: the kernels' source text, filled per (product, adder), loaded once per process.

Each kernel module is one generated file: a template below with its ``#PRODUCT`` and ``#ACCUMULATE``
marker lines replaced by statements (a table lookup, ``x * w``, or the multiplier's / adder's IR
rendered by :mod:`opmodels.backends.numba_cpu` or ``numba_cuda``), so LLVM sees one loop body it can
inline and vectorise and ``cache=True`` holds for the whole file. Every loop keeps the spec's order per
output: k ascends in the accumulation of each output (spec section 8).

Templates: ``"cpu"`` (the generated loops of every mode, run by :mod:`.cpu`), ``"split"`` (LUT mode's
split tables, run by :mod:`.split`); the CUDA kernels' template lives in :mod:`.cuda`, the chunk
kernels' in :mod:`.chunks`; both fill it with :func:`fill` and :func:`accumulate_lines`. :func:`module` returns the loaded
module of a template for a plan.
"""
from __future__ import annotations

import re

from ..backends import numba_cpu

# The line computing p = P(x, w) in LUT and exact mode (behavioural mode pastes the multiplier's
# generated statements instead); x is the activation value, w the weight value, all int64.
LUT_LINE = "p = np.int64(table[x & 255, w & 255])"
EXACT_LINE = "p = x * w"

# -- CPU: the generated loops (every mode) ---------------------------------------------------------
CPU_KERNELS = '''
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
def bmm_kernel(xs, ws, table, out):
    # A batch of products in one call: out[b] = xs[b] @ ws[b] (ws[b] is ws[0] where ws holds one
    # matrix), one task per (b, m) row, matmul_kernel's loop inside (k ascends for every output).
    # xs and ws may be int16 (a quarter of the memory traffic); the values are widened here.
    B, M, K = xs.shape
    N = ws.shape[2]
    shared = ws.shape[0] == 1
    for task in numba.prange(B * M):
        bb = task // M
        m = task % M
        wb = 0 if shared else bb
        accs = np.zeros(N, np.int64)
        for k in range(K):
            x = np.int64(xs[bb, m, k])
            for n in range(N):
                w = np.int64(ws[wb, k, n])
                acc = accs[n]
                #PRODUCT
                #ACCUMULATE
                accs[n] = acc
        out[bb, m, :] = accs


@numba.njit(cache=True, parallel=True, nogil=True)
def conv2d_kernel(xs, ws, table, out, sh, sw, dh, dw, groups):
    # Direct convolution over an input already zero-padded (operand value 0: padded positions are
    # real MACs). One (image, output channel) per task; the (c, i, j) loops run in the spec's
    # row-major order around a plane of Ho x Wo accumulators, so each output sees k in order.
    # Behavioural and exact mode (LUT mode takes column_conv2d_kernel); the table argument is unused.
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


@numba.njit(cache=True, parallel=True, nogil=True)
def column_conv2d_kernel(xflat, koff, cols, tflat, out, C, CG, H, W, PH, PW, sh, sw, groups, shift, chunks):
    # LUT mode, any groups (run where few outputs share a group, e.g. depthwise): one (image, output
    # channel) per task. At step k the weight is fixed over the whole output plane, so its table
    # column (256 entries from tflat[cols[o, k]], the table weight-major: 1 KB) stays in L1 and a MAC
    # is one load from it, indexed by the activation's pattern alone. Four adjacent outputs of a row
    # keep their accumulators in registers over all steps, k ascending for each (spec section 8);
    # a row's last block overlaps the one before it (WO = 7: outputs 0-3, then 3-6), a row narrower
    # than four takes the same loop one output at a time.
    # xflat: the input [N, C, H, W] as uint8 patterns, flat. With padding, a task first copies its
    # group's CG planes into the middle of a zeroed [CG, H + 2 PH, W + 2 PW] scratch of its chunk of
    # tasks (the border stays pattern 0: padded positions are real MACs with operand 0), so no
    # padded copy of the whole input is made. koff [K]: where step k = (c, i, j) reads, relative to
    # the output's window in the group's first (padded) plane; cols [O, K]: the weights' patterns
    # times 256. out [N, O, HO, WO] gets each accumulator sign-extended from its low 64 - shift bits
    # (shift 0: a LOA's own result). Unsigned indices, no views.
    O, K = cols.shape
    N, HO, WO = out.shape[0], out.shape[2], out.shape[3]
    OG = O // groups
    HP = H + 2 * PH
    WP = W + 2 * PW
    pad = PH > 0 or PW > 0
    s1 = np.uint64(sw)
    s2 = np.uint64(2 * sw)
    s3 = np.uint64(3 * sw)
    tasks = N * O
    for chunk in numba.prange(chunks):
        scratch = np.zeros(CG * HP * WP if pad else 1, np.uint8)
        # image-minor tasks: a thread's consecutive tasks share the output channel, so its K table
        # columns stay in L1 (image-major, a 4 x 4 plane would reload 9 KB of columns for 144 MACs)
        for task in range(chunk * tasks // chunks, (chunk + 1) * tasks // chunks):
            o = task // N
            nn = task % N
            c0 = nn * C + (o // OG) * CG
            if pad:
                for c in range(CG):
                    for h in range(H):
                        src = np.uint64(((c0 + c) * H + h) * W)
                        dst = np.uint64((c * HP + h + PH) * WP + PW)
                        for w in range(W):
                            scratch[dst + np.uint64(w)] = xflat[src + np.uint64(w)]
                xs = scratch
                gbase = np.uint64(0)
            else:
                xs = xflat
                gbase = np.uint64(c0) * np.uint64(H * W)
            for oh in range(HO):
                rowbase = gbase + np.uint64(oh * sh * WP)
                for blk in range((WO + 3) // 4 if WO >= 4 else 0):
                    ow = min(4 * blk, WO - 4)  # the last block overlaps the one before: same values again
                    b = rowbase + np.uint64(ow * sw)
                    acc0 = np.int64(0)
                    acc1 = np.int64(0)
                    acc2 = np.int64(0)
                    acc3 = np.int64(0)
                    for k in range(K):
                        xb = b + koff[k]
                        col = cols[o, k]
                        acc = acc0
                        p = np.int64(tflat[col + np.uint64(xs[xb])])
                        #ACCUMULATE
                        acc0 = acc
                        acc = acc1
                        p = np.int64(tflat[col + np.uint64(xs[xb + s1])])
                        #ACCUMULATE
                        acc1 = acc
                        acc = acc2
                        p = np.int64(tflat[col + np.uint64(xs[xb + s2])])
                        #ACCUMULATE
                        acc2 = acc
                        acc = acc3
                        p = np.int64(tflat[col + np.uint64(xs[xb + s3])])
                        #ACCUMULATE
                        acc3 = acc
                    out[nn, o, oh, ow] = (acc0 << shift) >> shift
                    out[nn, o, oh, ow + 1] = (acc1 << shift) >> shift
                    out[nn, o, oh, ow + 2] = (acc2 << shift) >> shift
                    out[nn, o, oh, ow + 3] = (acc3 << shift) >> shift
                for ow in range(WO if WO < 4 else 0):  # rows narrower than a block: one output at a time
                    b = rowbase + np.uint64(ow * sw)
                    acc = np.int64(0)
                    for k in range(K):
                        p = np.int64(tflat[cols[o, k] + np.uint64(xs[b + koff[k]])])
                        #ACCUMULATE
                    out[nn, o, oh, ow] = (acc << shift) >> shift
'''

# -- CPU, LUT mode: split tables (see opmodels.kernels.split) -------------------------------------------
SPLIT_KERNELS = '''
@numba.njit(cache=True, parallel=True, nogil=True)
def build_tables(wpat, wpat2, has2, split, hb, pairs, tables):
    # tables[g, nb, s, r, :] for the NB weights of block nb at step s (patterns, zero-padded).
    # One step: row r is split[r, w] (split: the split T, or a whole table). A pair of steps (exact adder
    # only): row r < 256 is split[r & 15, w] + split[r >> 4, w2], row 256 + h is
    # split[16 + (h & (2^hb - 1)), w] + split[16 + (h >> hb), w2]; has2 = 0 where the pair is a lone
    # last step. Flat unsigned indices: numba then skips its negative-index checks.
    G, NBLK, KC, R, NB = tables.shape
    NPAD = wpat.shape[2]
    wflat = wpat.ravel()
    w2flat = wpat2.ravel()
    sflat = split.ravel()
    tflat = tables.reshape(-1)
    for task in numba.prange(G * NBLK * KC):  # the (g, nb, s) order of the table's layout
        g = task // (NBLK * KC)
        nb = (task // KC) % NBLK
        k = task % KC
        w0 = np.uint64((g * KC + k) * NPAD + nb * NB)
        second = has2[k]
        for r in range(R):
            t0 = np.uint64((task * R + r) * NB)
            if not pairs:
                s0 = np.uint64(r * 256)
                for j in range(NB):
                    tflat[t0 + np.uint64(j)] = sflat[s0 + np.uint64(wflat[w0 + np.uint64(j)])]
            else:
                if r < 256:
                    ra = r & 15
                    rb = r >> 4
                else:
                    ra = 16 + ((r - 256) & ((1 << hb) - 1))
                    rb = 16 + ((r - 256) >> hb)
                sa = np.uint64(ra * 256)
                sb = np.uint64(rb * 256)
                for j in range(NB):
                    v = sflat[sa + np.uint64(wflat[w0 + np.uint64(j)])]
                    if second:
                        v += sflat[sb + np.uint64(w2flat[w0 + np.uint64(j)])]
                    tflat[t0 + np.uint64(j)] = v


@numba.njit(cache=True, parallel=True, nogil=True)
def split_kernel(xflat, base, koff, koff2, goff, tables, shift, lo_rows, accs, MB, out, wrap, first, last):
    # accs[g, nb, m, :] += the MACs of the chunk's steps, k ascending for every output: four steps per
    # pass over a row's accumulators (a quarter of their loads and stores), then the last KC % 4 one
    # at a time. NB is a constant in each block copy (split_kernel_nb<NB>): LLVM unrolls the row.
    # A task's accumulators are its own block (BEGIN_BLOCK, END_BLOCK): they go to out at the end.
    # Flat unsigned indices and no array views (a view's reference count is an atomic that the
    # threads would share).
    G, NBLK, KC, R, NB = tables.shape
    NB = tables.shape[4]  #BLOCK
    M = base.shape[0]
    MBLK = (M + MB - 1) // MB
    tflat = tables.reshape(-1)
    whole = accs.reshape(-1)  # partial sums between chunks of steps (BEGIN_BLOCK, END_BLOCK)
    nbu = np.uint64(NB)
    pairs = lo_rows == 256
    su = np.uint64(shift)
    hbu = np.uint64(8 - shift)
    lou = np.uint64(lo_rows)
    for task in numba.prange(G * NBLK * MBLK):
        g = task // (NBLK * MBLK)
        nb = (task // MBLK) % NBLK
        m0 = (task % MBLK) * MB
        m1 = min(M, m0 + MB)
        #BEGIN_BLOCK
        t = np.uint64((g * NBLK + nb) * KC * R * NB)
        step = np.uint64(R * NB)
        K4 = KC - KC % 4
        for k in range(0, K4, 4):
            t0 = t + np.uint64(k) * step
            #OFFSETS4
            for m in range(m0, m1):
                b = base[m]
                #ROWS4
                a0 = np.uint64((m - m0) * NB)
                for j in range(nbu):
                    acc = aflat[a0 + j]
                    p = tflat[lo0 + j] + tflat[hi0 + j]
                    #ACCUMULATE
                    p = tflat[lo1 + j] + tflat[hi1 + j]
                    #ACCUMULATE
                    p = tflat[lo2 + j] + tflat[hi2 + j]
                    #ACCUMULATE
                    p = tflat[lo3 + j] + tflat[hi3 + j]
                    #ACCUMULATE
                    aflat[a0 + j] = acc
        for k in range(K4, KC):
            t0 = t + np.uint64(k) * step
            #OFFSETS1
            for m in range(m0, m1):
                b = base[m]
                #ROWS1
                a0 = np.uint64((m - m0) * NB)
                for j in range(nbu):
                    acc = aflat[a0 + j]
                    p = tflat[lo0 + j] + tflat[hi0 + j]
                    #ACCUMULATE
                    aflat[a0 + j] = acc
        #END_BLOCK


@numba.njit(cache=True, parallel=True, nogil=True)
def row_kernel(xflat, base, koff, goff, tables, accs, MB, out, wrap, first, last):
    # A table without a split: each step's table holds the weights' whole columns (256 rows, one
    # per activation pattern), and a step adds the row of x = xflat[base[m] + koff[k]]. Otherwise
    # split_kernel's loops, two steps per pass (four steps' tables, 256 rows each, leave L1),
    # k ascending for every output.
    G, NBLK, KC, R, NB = tables.shape
    NB = tables.shape[4]  #BLOCK
    M = base.shape[0]
    MBLK = (M + MB - 1) // MB
    tflat = tables.reshape(-1)
    whole = accs.reshape(-1)  # partial sums between chunks of steps (BEGIN_BLOCK, END_BLOCK)
    nbu = np.uint64(NB)
    for task in numba.prange(G * NBLK * MBLK):
        g = task // (NBLK * MBLK)
        nb = (task // MBLK) % NBLK
        m0 = (task % MBLK) * MB
        m1 = min(M, m0 + MB)
        #BEGIN_BLOCK
        t = np.uint64((g * NBLK + nb) * KC * R * NB)
        step = np.uint64(R * NB)
        for k in range(0, KC, 2):
            two = k + 1 < KC
            t0 = t + np.uint64(k) * step
            t1 = t0 + step if two else t0
            o0 = koff[k] + goff[g]
            o1 = koff[k + 1] + goff[g] if two else o0
            for m in range(m0, m1):
                r0 = t0 + np.uint64(xflat[base[m] + o0]) * nbu
                r1 = t1 + np.uint64(xflat[base[m] + o1]) * nbu
                a0 = np.uint64((m - m0) * NB)
                for j in range(nbu):
                    acc = aflat[a0 + j]
                    p = tflat[r0 + j]
                    #ACCUMULATE
                    if two:
                        p = tflat[r1 + j]
                        #ACCUMULATE
                    aflat[a0 + j] = acc
        #END_BLOCK
'''

BLOCKS = (8, 16, 32, 64, 128)  # the output block widths NB of the split kernels (kernels.split)


def with_block_copies(text: str, names=("split_kernel", "row_kernel")) -> str:
    """The template with each named kernel replaced by one copy per block width NB, named
    ``<name>_nb<NB>``, in which NB is a constant (the ``#BLOCK`` line): LLVM then unrolls a row's
    vector loop and drops its remainder checks, which cost a quarter of a 64-wide row's time."""
    for name in names:
        start = text.rindex("@numba.njit", 0, text.index(f"def {name}("))
        end = text.find("\n@numba.njit", start + 1) + 1 or len(text)
        body = text[start:end]
        copies = [re.sub(r"^(\s*)NB = .*#BLOCK$", rf"\g<1>NB = {nb}", body.replace(f"def {name}(", f"def {name}_nb{nb}("),
                         flags=re.M) for nb in BLOCKS]
        text = text[:start] + "\n\n\n".join(copy.rstrip("\n") for copy in copies) + "\n\n\n" + text[end:]
    return text


# A task's block of accumulators in the split kernels: its own array (no other thread writes near it,
# and it never leaves the cache). It starts at zero, or at the partial sums that the previous chunk of
# steps left in accs (tables built per call in chunks); after the last chunk it goes straight to out
# (row m = i * P + p, output o), sign-extended from its low 64 - wrap bits (the acc_width-bit
# register; wrap 0 keeps a LOA's own result) and converted to out's dtype, else back to accs.
BEGIN_BLOCK = """
aflat = np.zeros((m1 - m0) * NB, accs.dtype)
held = np.uint64(((g * NBLK + nb) * M + m0) * NB)
if not first:
    for e in range((m1 - m0) * NB):
        aflat[e] = whole[held + np.uint64(e)]
""".strip().splitlines()
END_BLOCK = """
if last:  # names of their own: numba types a name once per function (j, a0 are uint64 above)
    P = out.shape[2]
    OG = out.shape[1] // G
    first_out = g * OG + nb * NB
    for row in range(m0, m1):
        image, pixel = row // P, row % P
        at = (row - m0) * NB
        for col in range(min(NB, OG - nb * NB)):
            v = np.int64(aflat[at + col])
            out[image, first_out + col, pixel] = (v << wrap) >> wrap
else:
    for e in range((m1 - m0) * NB):
        whole[held + np.uint64(e)] = aflat[e]
""".strip().splitlines()


def split_offsets(steps: int) -> list[str]:
    """Before the rows: the offsets ``o<i>`` (and ``p<i>`` of the pair's second pattern) of step
    ``k + i`` in the group's activations, i < steps. Locals, not loads in every row (LLVM cannot move
    a load of koff past the stores to the accumulators)."""
    return [f"o{i}, p{i} = koff[k + {i}] + goff[g], koff2[k + {i}] + goff[g]" for i in range(steps)]


def split_rows(steps: int) -> list[str]:
    """The rows ``lo<i>``, ``hi<i>`` that step ``k + i`` adds for the activation row at ``b``, i < steps:
    x = xflat[b + o<i>], or with pair tables the pattern pair x | x2 << 8 (x2 at b + p<i>); the low
    nibbles (of both patterns) index rows 0.., the high parts rows lou... Pasted as text, not called:
    an array passed to a function costs reference counting in every row."""
    lines = []
    for i in range(steps):
        lines += [f"x{i} = np.uint64(xflat[b + o{i}])",
                  "if pairs:",
                  f"    x{i} |= np.uint64(xflat[b + p{i}]) << np.uint64(8)",
                  f"ts{i} = t0 + np.uint64({i}) * step",
                  f"lo{i} = ts{i} + ((x{i} & np.uint64(15)) | ((x{i} >> np.uint64(4)) & np.uint64(0xF0))) * nbu",
                  f"hi{i} = ts{i} + (lou + (((x{i} & np.uint64(255)) >> su) | ((x{i} >> (np.uint64(8) + su)) << hbu))) * nbu"]
    return lines


_modules: dict[tuple, object] = {}

# Work (MACs) below which a call runs the serial copy of a kernel: a parallel region costs tens of
# microseconds on a quiet machine and up to ~100 ms on a loaded one (threads waking up), more than a
# small product's work (an attention head's 17 x 16 x 17 is 4,624 MACs).
SERIAL_MACS = 1 << 18


def with_serial_copies(text: str) -> str:
    """The template followed by a serial copy of each of its parallel kernels, named ``<name>_serial``
    (``parallel=False``: ``prange`` is ``range``, no thread pool). Separate functions, not one function
    jitted twice: numba's cache keys its files by the function, not by the flags."""
    serial = re.sub(r"parallel=True", "parallel=False", text)
    serial = re.sub(r"^def (\w+)\(", r"def \1_serial(", serial, flags=re.M)
    return text + "\n" + serial


def pick(module, name: str, macs: int):
    """Kernel ``name`` of a generated module, its serial copy when the call's work is below SERIAL_MACS."""
    return getattr(module, name + "_serial" if macs < SERIAL_MACS else name)


def module(plan, template: str):
    """The generated module of ``template`` for this plan: the multiplier's and adder's statements
    pasted into the loops. Memoised: rendering the text costs more than a small layer's kernel call."""
    kind = product_kind(plan)
    behavioural = kind.startswith("behavioural")
    # Name only what the text depends on: one LUT kernel module serves every 8-bit multiplier.
    described = plan.multiplier_name if behavioural else kind
    key = (template, kind, described, plan.multiplier.ir_hash if behavioural else None,
           plan.adder.ir_hash if plan.adder else None, plan.adder.id if plan.adder else None)
    if key not in _modules:
        text, renderer, lut_line, stem = TEMPLATES[template]
        graphs = ([plan.multiplier.graph] if behavioural else []) + ([plan.adder.graph] if plan.adder else [])
        tables = dict.fromkeys(line for graph in graphs for line in renderer.render_globals(graph))  # TABLE ops
        source = (f'"""Generated by opmodels: kernels for multiplier {described}, adder '
                  f'{plan.adder.id if plan.adder else "exact"}."""\n{renderer.header}\n'
                  + "".join(line + "\n" for line in tables)
                  + fill(with_serial_copies(text), {"PRODUCT": product_lines(plan, renderer, lut_line),
                                "ACCUMULATE": accumulate_lines(plan, renderer)}))
        accumulate = "loa" if plan.adder is not None else "exact"
        _modules[key] = numba_cpu.load_module(source, f"{stem}_{kind}_{accumulate}")
    return _modules[key]


def product_kind(plan) -> str:
    if plan.mode == "behavioural":
        return f"behavioural_{plan.booth_operand}"
    return plan.mode


def product_lines(plan, renderer, lut_line: str) -> list[str]:
    if plan.mode == "lut":
        return [lut_line]
    if plan.mode == "exact":
        return [EXACT_LINE]
    a, b = ("x", "w") if plan.booth_operand == "w" else ("w", "x")  # b is the Booth-recoded operand
    return renderer.render_statements(plan.multiplier.graph, {"a": a, "b": b}, "p", prefix="m")


def accumulate_lines(plan, renderer) -> list[str]:
    if plan.adder is None:
        return ["acc = acc + p"]  # int64 wraps; the caller reduces modulo 2^acc_width
    if renderer is numba_cpu.CPU and plan.adder.family == "LOA":
        return loa_lines(plan.adder.params["width"], plan.adder.params["l"])
    return renderer.render_statements(plan.adder.graph, {"a": "acc", "b": "p"}, "acc", prefix="s")


def loa_lines(width: int, l: int) -> list[str]:
    """``acc = LOA(acc, p)`` (spec section 7) as whole-word signed operations, so that a row of outputs
    is a few vector ops per MAC. Bits l - 1 and up of both operands are added: bit l - 1's carry is
    the LOA's carry in (its AND), its sum bit (XOR) and the lower bits of the sum are zero or, ORed
    with the low l bits' OR, give that OR. Only the low w bits of ``acc`` and ``p`` matter (OR, AND,
    + and << never carry into lower bits), so it holds in int32 lanes for w <= 32 (the store
    truncates, LLVM narrows the ops) and in int64 ones for any w <= 64 - and p needs no sign extension
    to w first. Checked against the LOA's interpreter in ``tests/opmodels/test_kernels.py``."""
    if l == 0:
        lines = ["acc = acc + p"]
    else:
        upper, low = ~((1 << (l - 1)) - 1), (1 << l) - 1
        lines = [f"acc = ((acc & np.int64({upper})) + (p & np.int64({upper}))) | ((acc | p) & np.int64({low}))"]
    if width < 64:
        lines.append(f"acc = (acc << np.int64({64 - width})) >> np.int64({64 - width})")
    return lines


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


# template name -> (text, renderer, LUT-mode product line, file stem)
TEMPLATES = {
    "cpu": (CPU_KERNELS, numba_cpu.CPU, LUT_LINE, "kernels"),
    "split": (with_block_copies(fill(SPLIT_KERNELS, {"OFFSETS4": split_offsets(4), "ROWS4": split_rows(4),
                                                  "OFFSETS1": split_offsets(1), "ROWS1": split_rows(1),
                                                  "BEGIN_BLOCK": BEGIN_BLOCK, "END_BLOCK": END_BLOCK})), numba_cpu.CPU,
              LUT_LINE, "split"),
}
