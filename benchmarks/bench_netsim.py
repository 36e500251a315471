"""Forward time of approximate networks as a ratio to the same network in torch fp32, same process.

    python benchmarks/bench_netsim.py [--repeat 5] [--threads 2] [--only lenet5-M4P8] [--json]

Cases (targets of issues 5 and 12 in brackets):
  lenet5-M4P8         LeNet-5, batch 256, M4P8 on every layer, exact adder, 8-bit   [<= 3x]
  lenet5-M4P8-LOA8    the same with LOA8 accumulation (sequential adds)
  lenet5-exact8       8-bit quantized with exact arithmetic (the quantization overhead alone)
  lenet5-M4P8-16bit   16-bit operands: behavioural mode on M4P8W16
  lenet5-NOSPLIT8     an 8-bit table without an additive split (bench_kernels.nosplit_operator):
                      whole-column table rows
  resnet18-M4P8       ResNet-18 CIFAR-size, batch 32, M4P8 everywhere                [<= 10x]
  vit_tiny-M4P8       the zoo ViT, batch 256, M4P8 on every product, attention too   [<= 4x]
  mobilenet-M4P8      MobileNetV2-style (depthwise + pointwise), batch 256, M4P8     [<= 4x]
  cnn1d-M4P8          the 1-D CNN (Conv1d on rows), batch 256, M4P8

Each case: torch fp32 forward and the approximate forward, both under torch.inference_mode, one
warm-up call (kernel compilation, LUTs), then the best of --repeat calls, fp32 and approximate
calls alternating. Weights are random: the
time does not depend on them. The printed ratio is approximate / fp32.
"""
import argparse
import json
import time

import torch

import netsim
import opmodels
from netsim import backend, zoo

CASES = {
    "lenet5-M4P8": ("lenet5", 256, dict(multiplier="M4P8")),
    "lenet5-M4P8-LOA8": ("lenet5", 256, dict(multiplier="M4P8", adder="LOA8")),
    "lenet5-exact8": ("lenet5", 256, dict(multiplier="exact")),
    "lenet5-M4P8-16bit": ("lenet5", 256, dict(multiplier="M4P8", w_bits=16, a_bits=16)),
    "lenet5-NOSPLIT8": ("lenet5", 256, dict(multiplier="NOSPLIT8")),
    "resnet18-M4P8": ("resnet18", 32, dict(multiplier="M4P8")),
    "vit_tiny-M4P8": ("vit_tiny", 256, dict(multiplier="M4P8")),
    "mobilenet-M4P8": ("mobilenet", 256, dict(multiplier="M4P8")),
    "cnn1d-M4P8": ("cnn1d", 256, dict(multiplier="M4P8")),
}


def _register_nosplit() -> None:
    """Make the no-split operator of bench_kernels resolvable by its id (once per process)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_kernels import nosplit_operator
    if "NOSPLIT8" not in opmodels.registered_ids():
        opmodels.register(nosplit_operator())


def best_times(functions, repeat: int) -> list:
    """Best time of each function; the calls alternate, so a busy machine slows all of them alike."""
    times = [[] for _ in functions]
    with torch.inference_mode():
        for function in functions:
            function()  # warm-up: compilation, tables
        for _ in range(repeat):
            for function, record in zip(functions, times):
                start = time.perf_counter()
                function()
                record.append(time.perf_counter() - start)
    return [min(record) for record in times]


def run_case(name: str, repeat: int) -> dict:
    model_name, batch, settings = CASES[name]
    if settings["multiplier"] == "NOSPLIT8":
        _register_nosplit()
    torch.manual_seed(0)
    model = zoo.build(model_name).eval()
    x = torch.rand(batch, *zoo.ZOO[model_name].input_shape)
    # strict: every product of the model runs on the operators ("M4P8 everywhere" holds)
    amodel = netsim.convert(model, netsim.Config.uniform(**settings), calibration=[x], strict=True)
    fp32, approximate = best_times([lambda: model(x), lambda: amodel(x)], repeat)
    macs = sum(row["macs"] for row in netsim.describe(amodel).rows) * batch
    return {"case": name, "model": model_name, "batch": batch, "settings": settings, "fp32_s": fp32,
            "approx_s": approximate, "ratio": approximate / fp32, "macs": macs,
            "approx_gmacs_per_s": macs / approximate / 1e9}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", action="append", choices=list(CASES), help="run only these cases")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import numba
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    results = [run_case(name, args.repeat) for name in (args.only or CASES)]
    if args.json:
        print(json.dumps({"threads": args.threads, "backend": backend.name(), "torch": str(torch.__version__),
                          "results": results}, indent=2))
        return
    print(f"backend {backend.name()}, {args.threads} threads, best of {args.repeat}")
    print(f"{'case':<20} {'batch':>5} {'fp32 ms':>9} {'approx ms':>10} {'ratio':>7} {'GMAC/s':>7}")
    for r in results:
        print(f"{r['case']:<20} {r['batch']:>5} {r['fp32_s'] * 1e3:>9.2f} {r['approx_s'] * 1e3:>10.2f} "
              f"{r['ratio']:>6.1f}x {r['approx_gmacs_per_s']:>7.2f}")


if __name__ == "__main__":
    main()
