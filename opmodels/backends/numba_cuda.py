"""Numba CUDA backend: the CPU renderer's text as ``cuda.jit`` device functions.

Only the decorator and the imports differ from :mod:`.numba_cpu`: the uint64 arithmetic, the masks and
the signed read of the result are the same lines, so both backends equal the interpreter for the same
reason. ``inline="always"`` inlines the scalar function into the calling kernel at the IR level, which
also lets ``numba.cuda.compile_ptx`` build kernels on a machine without a GPU (a non-inlined device
function asks the driver for the current device when it is typed).
"""
from __future__ import annotations

from .numba_cpu import Renderer, load_module


class CudaRenderer(Renderer):
    decorator = '@cuda.jit(device=True, inline="always")'
    header = "import numpy as np\nimport numba\nfrom numba import cuda\n"


CUDA = CudaRenderer()


def render_function(graph, name: str, **ports) -> str:
    return CUDA.render_function(graph, name, **ports)


def convert(graph, name: str = "scalar", **ports) -> str:
    return CUDA.convert(graph, name, **ports)


def scalar_function(op):
    """The device function ``f(a, b) -> int64`` of an operator (callable from CUDA kernels)."""
    return load_module(CUDA.convert(op.graph, "scalar"), f"cudarenderer_{op.ir_hash[:16]}").scalar
