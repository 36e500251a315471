"""Numba CUDA backend: the CPU renderer's text as ``cuda.jit`` device functions.

Only the decorator and the imports differ from :mod:`.numba_cpu`: the uint64 arithmetic, the masks and
the signed read of the result are the same lines, so both backends equal the interpreter for the same
reason. ``inline="always"`` inlines the scalar function into the calling kernel at the IR level, which
also lets ``numba.cuda.compile_ptx`` build kernels on a machine without a GPU (a non-inlined device
function asks the driver for the current device when it is typed).
"""
from __future__ import annotations

from ..ir import Op
from .numba_cpu import Renderer, load_module

# A TABLE becomes a global array, which numba places in the GPU's constant memory (64 KiB in all).
MAX_TABLE_BYTES = 32 * 1024


class CudaRenderer(Renderer):
    decorator = '@cuda.jit(device=True, inline="always")'
    header = "import numpy as np\nimport numba\nfrom numba import cuda\n"

    def _table(self, node, args, widths):
        size = len(node.params) * next(n for n in (1, 2, 4, 8) if node.width <= 8 * n)
        if size > MAX_TABLE_BYTES:
            raise NotImplementedError(
                f"the CUDA backend renders tables of at most {MAX_TABLE_BYTES // 1024} KiB (constant memory), "
                f"not {size // 1024} KiB; an 8-bit operator runs on the GPU through its lookup table instead")
        return Renderer._table(self, node, args, widths)

    HANDLERS = {**Renderer.HANDLERS, Op.TABLE: _table}


CUDA = CudaRenderer()


def render_function(graph, name: str, **ports) -> str:
    return CUDA.render_function(graph, name, **ports)


def convert(graph, name: str = "scalar", **ports) -> str:
    return CUDA.convert(graph, name, **ports)


def scalar_function(op):
    """The device function ``f(a, b) -> int64`` of an operator (callable from CUDA kernels)."""
    return load_module(CUDA.convert(op.graph, "scalar"), f"cudarenderer_{op.ir_hash[:16]}").scalar
