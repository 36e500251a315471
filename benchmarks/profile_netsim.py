"""Where one approximate forward's time goes: per op, the kernel calls vs everything netsim does around them.

    python benchmarks/profile_netsim.py [--model vit_tiny] [--batch 256] [--threads 1] [--repeat 5] [--wall]

Every approximate op is timed (a Linear / Conv2d layer of ``netsim.layers``, or an intercepted product of
two activations, ``netsim.intercept.product``), and inside it every call of a generated kernel
(``opmodels.kernels.generate.pick``: the split / row kernels, the gather loops,
the table builds); "rest" is the op's time outside its kernels: quantizing activations, range checks,
conversions, layout copies, Python. The forward's remainder is the model's own float ops (LayerNorm,
softmax, pooling...), which fp32 pays too.

By default the timer is CPU time (``time.process_time``) of a single-threaded run: the work, not the
wait, so it holds on a shared machine where wall times swing; ``--wall`` times the wall clock instead.
The best of ``--repeat`` forwards is shown (the forward with the smallest total).
"""
import argparse
import collections
import time

import numba
import torch

import netsim
from netsim import intercept, layers, zoo
from opmodels.kernels import generate


class Recorder:
    """Accumulates time per (op, part) for the forward being run."""

    def __init__(self, timer):
        self.timer = timer
        self.times = collections.defaultdict(float)
        self.stack = []

    def op(self, function, name_of):
        recorder = self

        def timed(*args, **kwargs):
            name = name_of(*args)
            recorder.stack.append(name)
            start = recorder.timer()
            try:
                return function(*args, **kwargs)
            finally:
                recorder.times[(name, "total")] += recorder.timer() - start
                recorder.stack.pop()
        return timed

    def kernel(self, pick):
        recorder = self

        def picked(module, name, macs):
            function = pick(module, name, macs)

            def timed(*args, **kwargs):
                start = recorder.timer()
                try:
                    return function(*args, **kwargs)
                finally:
                    op = recorder.stack[-1] if recorder.stack else "(outside ops)"
                    recorder.times[(op, name.removesuffix("_serial"))] += recorder.timer() - start
            return timed
        return picked


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vit_tiny", choices=sorted(zoo.ZOO))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--multiplier", default="M4P8")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    timer = time.perf_counter if args.wall else time.process_time

    torch.manual_seed(0)
    model = zoo.build(args.model).eval()
    x = torch.rand(args.batch, *zoo.ZOO[args.model].input_shape)
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier=args.multiplier), calibration=[x], strict=True)

    recorder = Recorder(timer)
    layers.ApproxMixin._approx_forward = recorder.op(layers.ApproxMixin._approx_forward,
                                                     lambda layer, *_: layer.layer_name)
    intercept.product = recorder.op(intercept.product, lambda state, name, *_: name)
    generate.pick = recorder.kernel(generate.pick)

    best = None
    with torch.inference_mode():
        model(x), amodel(x)  # warm-up: compilation, tables
        fp32 = float("inf")
        for _ in range(args.repeat):
            start = timer()
            model(x)
            fp32 = min(fp32, timer() - start)
            recorder.times.clear()
            start = timer()
            amodel(x)
            total = timer() - start
            if best is None or total < best[0]:
                best = (total, dict(recorder.times))
    total, times = best
    ops = list(dict.fromkeys(op for op, _ in times))
    kernels = sorted({part for _, part in times if part != "total"})
    clock = "wall" if args.wall else "CPU"
    print(f"{args.model} batch {args.batch}, {args.multiplier}, {args.threads} thread(s), {clock} ms, best of "
          f"{args.repeat}: approximate forward {total * 1e3:.1f}, fp32 forward {fp32 * 1e3:.1f} "
          f"({total / fp32:.2f}x)")
    print(f"{'op':<24} {'total':>8} {'kernels':>8} {'rest':>7}  kernels")
    sums = collections.Counter()
    for op in ops:
        op_total = times.get((op, "total"), 0.0)
        inside = {part: times[(op, part)] for part in kernels if (op, part) in times}
        kernel_time = sum(inside.values())
        sums["total"] += op_total
        sums["kernels"] += kernel_time
        sums.update(inside)
        detail = ", ".join(f"{part} {value * 1e3:.2f}" for part, value in inside.items())
        print(f"{op:<24} {op_total * 1e3:8.2f} {kernel_time * 1e3:8.2f} {(op_total - kernel_time) * 1e3:7.2f}  {detail}")
    print(f"{'all approximate ops':<24} {sums['total'] * 1e3:8.2f} {sums['kernels'] * 1e3:8.2f} "
          f"{(sums['total'] - sums['kernels']) * 1e3:7.2f}  "
          + ", ".join(f"{part} {sums[part] * 1e3:.2f}" for part in kernels))
    print(f"{'rest of the forward':<24} {(total - sums['total']) * 1e3:8.2f}  (the model's float ops, hooks)")


if __name__ == "__main__":
    main()
