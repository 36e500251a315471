"""Where a table-kernel call spends its time, and what its inner loops execute.

Stages: the generated module's functions (build_tables, split_kernel / row_kernel, finish) timed by
wrapping them, best of --repeat calls after a warm-up (so prepared tables are already kept: run with
--cold to clear the table cache before every call and see the building too). Then, with --asm, the
instruction mix of the innermost vector loops of the compiled kernels (a non-parallel copy of the
generated source, compiled without numba's cache so that its assembly can be inspected).

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 NUMBA_NUM_THREADS=2 python benchmarks/profile_kernels.py [--cold] [--asm]
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed_module(generate, spent: dict):
    """generate.module, with every function of the returned module timed into ``spent``."""
    original = generate.module

    class Timed:
        def __init__(self, module):
            self.module = module

        def __getattr__(self, name):
            function = getattr(self.module, name)
            if not callable(function):
                return function

            def call(*args):
                start = time.perf_counter()
                result = function(*args)
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
                return result
            return call

    return lambda plan, template: Timed(original(plan, template))


def stages(label: str, call, repeat: int, cold: bool, spent: dict) -> None:
    from opmodels.kernels import cache
    call()
    best, best_spent = float("inf"), {}
    for _ in range(repeat):
        if cold:
            cache.clear()
        spent.clear()
        start = time.perf_counter()
        call()
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, best_spent = elapsed, dict(spent)
    rest = best - sum(best_spent.values())
    parts = ", ".join(f"{name} {t * 1e3:.2f}" for name, t in best_spent.items())
    print(f"{label:<28} {best * 1e3:8.2f} ms = {parts}, Python and numpy {rest * 1e3:.2f}")


def inner_loops(asm: str) -> list[tuple[int, list]]:
    """(instructions, most common mnemonics) of each loop body (a backward jump) that uses ymm."""
    lines, labels, loops = asm.splitlines(), {}, []
    for i, line in enumerate(lines):
        label = re.match(r"^(\.LBB\S+):", line)
        if label:
            labels[label.group(1)] = i
        jump = re.match(r"\s+j\w+\s+(\.LBB\S+)", line)
        if jump and labels.get(jump.group(1), i) < i:
            body = lines[labels[jump.group(1)] + 1:i + 1]
            ops = [x.split()[0] for x in (b.strip() for b in body) if x and not x.startswith((".", "#"))]
            if any("ymm" in b for b in body) and len(ops) < 60:
                loops.append((len(ops), Counter(ops).most_common(8)))
    return loops


def assembly(plan, function: str, args) -> list:
    from opmodels.kernels import generate
    source = Path(generate.module(plan, "split").__file__).read_text()
    source = source.replace("cache=True, parallel=True", "cache=False").replace("numba.prange", "range")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"inspect_{abs(hash(source))}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        getattr(module, function)(*args)
        return inner_loops(next(iter(getattr(module, function).inspect_asm().values())))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="clear the prepared tables before every call")
    parser.add_argument("--asm", action="store_true", help="also the instruction mix of the inner loops")
    args = parser.parse_args(argv)

    import numba
    from bench_kernels import THREADS, nosplit_operator
    from opmodels import kernels
    from opmodels.kernels import generate
    numba.set_num_threads(THREADS)
    spent: dict = {}
    generate.module = timed_module(generate, spent)
    rng = np.random.default_rng(0)
    x_conv = rng.integers(-128, 128, (8, 64, 56, 56)).astype(np.int8)
    w_conv = rng.integers(-128, 128, (64, 64, 3, 3)).astype(np.int8)
    x_lin = rng.integers(-128, 128, (256, 512)).astype(np.int8)
    w_lin = rng.integers(-128, 128, (512, 512)).astype(np.int8)
    nosplit = nosplit_operator()
    stages("linear M4P8", lambda: kernels.matmul(x_lin, w_lin, "M4P8"), args.repeat * 2, args.cold, spent)
    stages("linear M4P8 + LOA8", lambda: kernels.matmul(x_lin, w_lin, "M4P8", "LOA8"), args.repeat, args.cold, spent)
    stages("linear NOSPLIT8", lambda: kernels.matmul(x_lin, w_lin, nosplit), args.repeat, args.cold, spent)
    stages("conv2d M4P8", lambda: kernels.conv2d(x_conv, w_conv, "M4P8", padding=1), args.repeat, args.cold, spent)
    stages("conv2d NOSPLIT8", lambda: kernels.conv2d(x_conv, w_conv, nosplit, padding=1), args.repeat, args.cold,
           spent)
    if args.asm:
        z = np.zeros
        for label, plan in (("split tables, exact", kernels.plan("M4P8")), ("split tables, LOA8", kernels.plan("M4P8", "LOA8"))):
            accs = z((1, 1, 10, 64), np.int32)  # LOA8 (32 bits): int32 lanes too (generate.loa_lines)
            split_args = (z(100, np.uint8), z(10, np.int64), z(4, np.int64), z(4, np.int64), z(1, np.int64),
                          z((1, 1, 4, 32, 64), np.int16), 4, 16, accs, 5)
            print(f"{label}: inner loops (instructions, mix): {assembly(plan, 'split_kernel_nb64', split_args)}")
        row_args = (z(100, np.uint8), z(10, np.int64), z(4, np.int64), z(1, np.int64), z((1, 1, 4, 256, 64), np.int16),
                    z((1, 1, 10, 64), np.int32), 5)
        print(f"whole-column rows, exact: inner loops: {assembly(kernels.plan('M4P8'), 'row_kernel_nb64', row_args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
