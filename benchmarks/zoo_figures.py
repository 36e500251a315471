"""The acceptance figures of issue 12 for the zoo's ViT and MobileNet (and the 1-D CNN).

    python benchmarks/zoo_figures.py --checkpoints DIR [--limit N] [--threads 2] [--resilience-limit 500]
                                     [--models vit_tiny,mobilenet,cnn1d] [--skip-resilience]

DIR holds ``<model>.pt`` from ``netsim train <model> -o DIR/<model>.pt``. Prints, per model, the test
accuracy on the embedded digits at fp32, 8-bit exact, and with M4P8, M5P10 (multipliers) and LOA8
(adder) on every product (``strict=True``: nothing is left exact), then runs::

    netsim resilience vit_tiny --weights DIR/vit_tiny.pt --technique multiplier --logics 4 \\
        --scope network,layers --block QK='blocks.*.attn.qk' ... --test-limit N -o DIR/resilience-vit

and prints the per-layer table: accuracy with M4P{2..14} on one layer (or one group of layers) at a
time, all else 8-bit exact, and the mean loss per group (attention products, attention projections,
MLP), which answers whether attention is more or less sensitive than the MLP blocks.
"""
import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

import netsim
from netsim import data, zoo

CONFIGS = {  # label -> Config.uniform settings (8-bit operands, every product)
    "8-bit exact": {},
    "M4P8": {"multiplier": "M4P8"},
    "M5P10": {"multiplier": "M5P10"},
    "LOA8": {"adder": "LOA8"},
}
VIT_GROUPS = {  # resilience blocks: each group approximated alone, the rest 8-bit exact
    "QK": "blocks.*.attn.qk", "AV": "blocks.*.attn.av", "QKV": "blocks.*.attn.qkv",
    "PROJ": "blocks.*.attn.proj", "MLP": "blocks.*.mlp.*",
}
GROUP_OF = (("attention products (qk, av)", ("qk", "av")), ("attention projections (qkv, proj)", ("qkv", "proj")),
            ("MLP (mlp.0, mlp.2)", ("mlp.0", "mlp.2")))


def accuracies(name: str, weights: Path, limit: int | None) -> dict:
    model = zoo.build(name, weights=weights).eval()
    train_set, test_set = data.load("mnist5k", "train"), data.load("mnist5k", "test")
    if limit:
        test_set = torch.utils.data.Subset(test_set, range(min(limit, len(test_set))))
    test = data.loader(test_set, 256)  # as `netsim eval` (attention operands are scaled per batch)
    calibration = netsim.calibrate(model, data.loader(train_set, 256), batches=8)
    results = {"fp32": netsim.evaluate(model, test, progress=False)}
    for label, settings in CONFIGS.items():
        start = time.perf_counter()
        amodel = netsim.convert(model, netsim.Config.uniform(**settings), calibration, strict=True)
        results[label] = netsim.evaluate(amodel, test, progress=False)
        print(f"  {name:<10} {label:<12} {results[label]:.4f}   ({time.perf_counter() - start:.0f} s)", flush=True)
    return {"samples": len(test_set), "accuracy": results}


def resilience(weights: Path, out: Path, limit: int, threads: int) -> dict:
    argv = ["resilience", "vit_tiny", "--weights", str(weights), "--technique", "multiplier", "--logics", "4",
            "--scope", "network,layers", "--test-limit", str(limit), "--threads", str(threads),
            "-o", str(out), "--no-progress"]
    for group, pattern in VIT_GROUPS.items():
        argv += ["--block", f"{group}={pattern}"]
    print("$ netsim " + " ".join(shlex.quote(a) for a in argv), flush=True)
    from netsim.cli import main
    if main(argv) != 0:
        raise SystemExit("netsim resilience failed")
    return json.loads((out / "resilience.json").read_text())


def resilience_table(result: dict) -> str:
    rows = [r for r in result["rows"] if r["technique"] == "multiplier"]
    baseline = result["summary"]["noise"]["baseline_accuracy"]
    degrees = sorted({r["degree"] for r in rows})
    scopes = list(dict.fromkeys(r["scope"] for r in rows))
    by = {(r["scope"], r["degree"]): r["accuracy"] for r in rows}
    width = max(len(s) for s in scopes)
    lines = [f"ViT per-layer resilience: M4P<degree> on one scope, the rest 8-bit exact "
             f"(baseline {baseline:.4f} on {result['summary']['noise']['samples']} samples, "
             f"binomial SE {result['summary']['noise']['binomial_se']:.4f})",
             f"{'scope':<{width}}  " + "  ".join(f"{'P' + str(d):>6}" for d in degrees) + "   mean loss"]
    for scope in scopes:
        values = [by[(scope, d)] for d in degrees]
        loss = baseline - sum(values) / len(values)
        lines.append(f"{scope:<{width}}  " + "  ".join(f"{v:6.4f}" for v in values) + f"   {loss:+.4f}")
    lines.append("")
    lines.append("mean accuracy loss of one layer approximated alone (over its layers and P2..P14):")
    for label, suffixes in GROUP_OF:
        members = [s for s in scopes if s.startswith("blocks.") and any(s.endswith("." + x) for x in suffixes)]
        losses = [baseline - by[(s, d)] for s in members for d in degrees]
        at_p14 = [baseline - by[(s, max(degrees))] for s in members]
        if members:
            lines.append(f"  {label:<36} {sum(losses) / len(losses):+.4f}  (at P{max(degrees)}: "
                         f"{sum(at_p14) / len(at_p14):+.4f}; {len(members)} layers)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", required=True, type=Path, help="directory with <model>.pt")
    parser.add_argument("--models", default="vit_tiny,mobilenet,cnn1d")
    parser.add_argument("--limit", type=int, default=None, help="first N test digits (default all 1,000)")
    parser.add_argument("--resilience-limit", type=int, default=500, help="test digits per resilience point")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-resilience", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in models:
        if not (args.checkpoints / f"{name}.pt").exists():
            sys.exit(f"zoo_figures: error: {args.checkpoints / (name + '.pt')} not found; "
                     f"netsim train {name} -o {args.checkpoints / (name + '.pt')}")
    figures = {}
    print(f"accuracy on the mnist5k test split, every product simulated (strict), {args.threads} threads")
    for name in models:
        figures[name] = accuracies(name, args.checkpoints / f"{name}.pt", args.limit)
    labels = ["fp32", *CONFIGS]
    print(f"\n{'model':<10} " + " ".join(f"{label:>11}" for label in labels))
    for name in models:
        print(f"{name:<10} " + " ".join(f"{figures[name]['accuracy'][label]:>11.4f}" for label in labels))
    if not args.skip_resilience and "vit_tiny" in models:
        result = resilience(args.checkpoints / "vit_tiny.pt", args.checkpoints / "resilience-vit",
                            args.resilience_limit, args.threads)
        print()
        print(resilience_table(result))


if __name__ == "__main__":
    main()
