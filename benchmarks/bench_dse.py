"""Wall time of the 42-multiplier DSE on LeNet-5 (targets: <= 60 s without fine-tuning, <= 15 min with
one fine-tuning epoch each, on 2 cores), with a fresh result cache, for one or more worker/thread layouts.

Printed against an exact baseline measured in the same run: one quantized-exact evaluation of the test
set in this process (``ratio`` = DSE seconds / that). ``--json`` prints the figures as JSON.

    python benchmarks/bench_dse.py --weights lenet5.pt                       # 2 workers x 1 thread
    python benchmarks/bench_dse.py --weights lenet5.pt --layouts 2x1,1x2     # compare layouts
    python benchmarks/bench_dse.py --weights lenet5.pt --finetune-epochs 1
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time


def exact_seconds(spec) -> float:
    import torch
    from netsim import data, zoo
    from netsim.explore.sweeps import baseline_config
    from netsim.network import calibrate, convert
    torch.set_num_threads(1)
    model = zoo.build(spec.name, spec.weights)
    calibration = calibrate(model, data.loader(data.load(spec.dataset, "train"), 256), batches=8)
    test = data.loader(data.load(spec.dataset, "test"), 256)
    amodel = convert(model, baseline_config(), calibration=calibration)
    best = float("inf")
    with torch.no_grad():
        for _ in range(3):
            start = time.perf_counter()
            for x, _ in test:
                amodel(x)
            best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--multipliers", default="M1-M6,P2-P14")
    parser.add_argument("--layouts", default="2x1", help="workers x threads, comma separated (default 2x1)")
    parser.add_argument("--finetune-epochs", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from netsim.explore.executor import ResultCache
    from netsim.explore.jobs import ModelSpec
    from netsim.explore.sweeps import Run, dse, parse_multipliers
    spec = ModelSpec.of(args.model, args.weights)
    multipliers = parse_multipliers(args.multipliers)
    finetune = {"epochs": args.finetune_epochs, "gradient": "ste", "lr": 1e-4} if args.finetune_epochs else None
    baseline = exact_seconds(spec)
    figures = {"model": args.model, "multipliers": len(multipliers), "finetune_epochs": args.finetune_epochs,
               "exact_eval_seconds": round(baseline, 3), "layouts": []}
    for layout in args.layouts.split(","):
        workers, threads = (int(v) for v in layout.split("x"))
        with tempfile.TemporaryDirectory() as cache:
            run = Run(cache=ResultCache(cache), workers=workers, threads=threads, progress=False)
            start = time.perf_counter()
            result = dse(spec, multipliers, run, finetune)
            seconds = time.perf_counter() - start
        figures["layouts"].append({"workers": workers, "threads": threads, "seconds": round(seconds, 1),
                                   "ratio_to_exact_eval": round(seconds / baseline, 1),
                                   "optimum": result["summary"].get("optimum_after" if finetune else "optimum_before")})
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print(f"{args.model}: one exact evaluation {baseline:.2f} s; {len(multipliers)} multipliers"
              + (f", {args.finetune_epochs} fine-tuning epoch(s) each" if finetune else ""))
        for f in figures["layouts"]:
            print(f"  {f['workers']} workers x {f['threads']} threads: {f['seconds']:.1f} s "
                  f"({f['ratio_to_exact_eval']:.0f}x one exact evaluation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
