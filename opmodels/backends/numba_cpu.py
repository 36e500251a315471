"""Numba CPU backend: an IR graph rendered as the Python source of a scalar ``njit`` function.

Every value is held as a ``np.uint64`` bit pattern and masked to its node's width after every op,
exactly like the reference interpreter, so the compiled function equals it bit for bit for every
width up to 64. Everything is uint64 on purpose: numba types a mix of uint64 and signed ints as
float64, which would silently lose bits of a 64-bit product.

The source goes into a real file in a cache directory keyed by the IR hash (``numba.njit(cache=True)``
cannot cache functions created by ``exec``), so a second process loads the machine code from numba's
cache instead of compiling again.

Entry points: :func:`render_function` (source text of one function), :func:`convert` (a whole module),
:func:`scalar_function` (the compiled ``f(a, b) -> int64`` of an operator) and
``Renderer.render_statements`` (the same lines with the ports bound to expressions, for kernels).
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import pickletools
import sys
from pathlib import Path

import numpy as np

from .. import cache
from ..files import write_atomic
from ..ir import Graph, Node, Op

# Bump when the generated text changes, so stale cache files are not reused.
RENDERER_VERSION = 1


def mask(width: int) -> int:
    return (1 << width) - 1


def u64(value: int) -> str:
    """A uint64 literal (numba keeps np.uint64(...) of a constant as a uint64 constant)."""
    return f"np.uint64({value:#x})"


class Renderer:
    """Renders one IR node per line; subclasses override only the lines that differ."""

    decorator = "@numba.njit(cache=True, nogil=True)"
    header = "import numpy as np\nimport numba\n"

    def render_node(self, v: str, node: Node, args: list[str], graph: Graph) -> str:
        """The expression of node ``v`` (arguments already rendered as variable names)."""
        handler = self.HANDLERS.get(node.op)
        if handler is None:  # exhaustive dispatch: a new op must be taught to every backend
            raise NotImplementedError(f"{type(self).__name__} cannot render IR op {node.op!r}")
        widths = [graph.nodes[a].width for a in node.args]
        return handler(self, node, args, widths)

    # -- one method per op ----------------------------------------------------------------------
    def _input(self, node, args, widths):
        # args[0] is the expression bound to the port (the function parameter, or a kernel variable)
        return f"np.uint64({args[0]}) & {u64(mask(node.width))}"

    def _const(self, node, args, widths):
        return u64(node.params[0])

    def _not(self, node, args, widths):
        return f"~{args[0]} & {u64(mask(node.width))}"

    def _bitwise(self, symbol):
        return lambda self, node, args, widths: f"{args[0]} {symbol} {args[1]}"

    def _arith(self, symbol):
        return lambda self, node, args, widths: f"({args[0]} {symbol} {args[1]}) & {u64(mask(node.width))}"

    def _shl(self, node, args, widths):
        return f"({args[0]} << {u64(node.params[0])}) & {u64(mask(node.width))}"

    def _shr_u(self, node, args, widths):
        return f"{args[0]} >> {u64(node.params[0])}"

    def _fill(self, x: str, top_bit: int, from_width: int, width: int) -> str:
        """Copy bit ``top_bit`` of x into bits from_width .. width-1 (0 - bit is all ones or zero)."""
        fill = mask(width) ^ mask(from_width)
        return f"((np.uint64(0) - (({x} >> {u64(top_bit)}) & np.uint64(1))) & {u64(fill)})"

    def _shr_s(self, node, args, widths):
        k, w = node.params[0], node.width
        if k == 0:
            return args[0]
        return f"({args[0]} >> {u64(k)}) | {self._fill(args[0], w - 1, w - k, w)}"

    def _slice(self, node, args, widths):
        return f"({args[0]} >> {u64(node.params[0])}) & {u64(mask(node.width))}"

    def _concat(self, node, args, widths):
        parts, offset = [], 0
        for arg, width in zip(args, widths):
            parts.append(arg if offset == 0 else f"({arg} << {u64(offset)})")
            offset += width
        return " | ".join(parts)

    def _mux(self, node, args, widths):
        # Branch-free: (0 - s) is all ones when s = 1, so the xor picks x1, else x0.
        s, x1, x0 = args
        return f"{x0} ^ (({x0} ^ {x1}) & (np.uint64(0) - {s}))"

    def _same(self, node, args, widths):
        return args[0]

    def _table(self, node, args, widths):
        # The values live in a module-level array (see :meth:`render_globals`), named after the
        # node's table so equal tables share one array.
        return f"np.uint64({table_name(node)}[{args[0]}])"

    def _sext(self, node, args, widths):
        if widths[0] == node.width:
            return args[0]
        return f"{args[0]} | {self._fill(args[0], widths[0] - 1, widths[0], node.width)}"

    HANDLERS = {
        Op.INPUT: _input,
        Op.CONST: _const,
        Op.NOT: _not,
        Op.AND: _bitwise(None, "&"),
        Op.OR: _bitwise(None, "|"),
        Op.XOR: _bitwise(None, "^"),
        Op.ADD: _arith(None, "+"),
        Op.SUB: _arith(None, "-"),
        Op.SHL: _shl,
        Op.SHR_U: _shr_u,
        Op.SHR_S: _shr_s,
        Op.SLICE: _slice,
        Op.CONCAT: _concat,
        Op.MUX: _mux,
        Op.ZEXT: _same,
        Op.SEXT: _sext,
        Op.CAST: _same,
        Op.TABLE: _table,
    }

    def render_globals(self, graph: Graph) -> list[str]:
        """Module-level lines the rendered statements need: one array per TABLE node (numba freezes a
        global array into the compiled code as a constant)."""
        return [table_global(node) for node in graph.nodes if node.op is Op.TABLE]

    # -- whole functions and modules --------------------------------------------------------------
    def render_statements(self, graph: Graph, bindings: dict[str, str], result: str, output: str = "y",
                          prefix: str = "v") -> list[str]:
        """Statements computing ``result = <output as int64>`` from input ports bound to expressions
        (signed integers; their low bits are taken). Kernels paste these into their loops, which
        lets LLVM inline and vectorise them without numba's slow IR-level inlining."""
        if set(graph.inputs) - set(bindings) or output not in graph.outputs:
            raise ValueError(f"graph ports {sorted(graph.inputs)} -> {sorted(graph.outputs)} do not match "
                             f"{sorted(bindings)} -> {output!r}")
        lines = []
        # Only nodes the output needs (dead nodes would still cost compile time).
        live = _live_nodes(graph, graph.outputs[output])
        for i, node in enumerate(graph.nodes):
            if i in live:
                args = [bindings[node.name]] if node.op is Op.INPUT else [f"{prefix}{a}" for a in node.args]
                lines.append(f"{prefix}{i} = {self.render_node(f'{prefix}{i}', node, args, graph)}")
        out = graph.nodes[graph.outputs[output]]
        lines.append(f"{result} = {self.to_int64(f'{prefix}{graph.outputs[output]}', out.width, out.signed)}")
        return lines

    def render_function(self, graph: Graph, name: str, inputs=("a", "b"), output: str = "y") -> str:
        """``def name(*inputs) -> int64``: inputs are integers (their low bits are taken); the result
        is the output's pattern read as signed if the output node is signed."""
        body = self.render_statements(graph, {port: port for port in inputs}, "result", output)
        lines = [self.decorator, f"def {name}({', '.join(inputs)}):", *(f"    {line}" for line in body),
                 "    return result"]
        return "\n".join(lines) + "\n"

    def to_int64(self, x: str, width: int, signed: bool) -> str:
        if not signed or width == 64:
            return f"np.int64({x})"
        shift = u64(64 - width)  # left-align, then an arithmetic shift copies the sign bit down
        return f"np.int64({x} << {shift}) >> np.int64({64 - width})"

    def convert(self, graph: Graph, name: str = "scalar", **ports) -> str:
        """A complete module holding one function ``name``."""
        tables = "".join(line + "\n" for line in dict.fromkeys(self.render_globals(graph)))
        return f'"""Generated by opmodels ({type(self).__name__} v{RENDERER_VERSION}) from IR ' \
               f'{graph.hash}."""\n{self.header}\n{tables}\n{self.render_function(graph, name, **ports)}'


def table_name(node: Node) -> str:
    return "TABLE_" + hashlib.sha256(repr(node.params).encode()).hexdigest()[:16]


def table_global(node: Node) -> str:
    """``TABLE_<sha> = <the values as a little-endian array, base64>``: compact text, exact values."""
    size = next(n for n in (1, 2, 4, 8) if node.width <= 8 * n)
    data = base64.b64encode(np.array(node.params, dtype=f"<u{size}").tobytes()).decode()
    return f'{table_name(node)} = np.frombuffer(__import__("base64").b64decode("{data}"), dtype="<u{size}").copy()'


def _live_nodes(graph: Graph, root: int) -> set[int]:
    live, stack = set(), [root]
    while stack:
        i = stack.pop()
        if i not in live:
            live.add(i)
            stack.extend(graph.nodes[i].args)
    return live


CPU = Renderer()


def render_function(graph: Graph, name: str, **ports) -> str:
    return CPU.render_function(graph, name, **ports)


def convert(graph: Graph, name: str = "scalar", **ports) -> str:
    return CPU.convert(graph, name, **ports)


# -- cache directory and loading -----------------------------------------------------------------
def cache_dir() -> Path:
    """Where the generated modules live (see :mod:`opmodels.cache`)."""
    return cache.cache_dir("numba")


def drop_damaged_cache_files(source_path: Path) -> None:
    """Delete numba's cache entries of this module that are cut short (a process killed while numba
    wrote them): numba would raise on them in every later run instead of compiling again. The pickles
    are walked opcode by opcode, not loaded: loading them would need the module being imported."""
    for index in source_path.parent.glob(f"__pycache__/{source_path.stem}.*.nbi"):
        entries = list(index.parent.glob(index.name[:-len(".nbi")] + ".*.nbc"))
        # numba's formats: an index is two pickles (its version, then the index), a data file one
        if not (_complete_pickles(index, 2) and all(_complete_pickles(entry, 1) for entry in entries)):
            for damaged in [index, *entries]:
                damaged.unlink(missing_ok=True)


def _complete_pickles(path: Path, count: int) -> bool:
    try:
        stream = io.BytesIO(path.read_bytes())
        for _ in range(count):
            for _ in pickletools.genops(stream):  # stops at STOP; raises when the data ends first
                pass
        return stream.tell() == len(stream.getvalue())
    except Exception:
        return False


def load_module(source: str, stem: str):
    """Write ``source`` to ``<cache>/<stem>_<sha>.py`` (once; an unchanged file keeps its mtime, which
    numba's cache index checks) and import it under a unique module name."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    module_name = f"opmodels_generated_{stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = cache_dir() / f"{module_name}.py"
    if not path.exists() or path.read_text() != source:
        write_atomic(path, source)
    drop_damaged_cache_files(path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def scalar_function(op, renderer: Renderer = CPU):
    """The compiled scalar function ``f(a, b) -> int64`` of an operator (``opmodels.Operator``):
    signed operands in, the signed result out. Compiles on the first call, or loads from the cache."""
    source = renderer.convert(op.graph, "scalar")
    return load_module(source, f"{type(renderer).__name__.lower()}_{op.ir_hash[:16]}").scalar
