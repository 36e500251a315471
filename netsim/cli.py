"""The ``netsim`` command: train zoo models, evaluate them float, quantized-exact and approximate.

User errors print one line ``netsim: error: ...`` and exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from . import options
from .config import Config
from .errors import NetsimError, OpmodelsError

DEFAULT_CALIBRATION_BATCHES = 8
_Parser = options.Parser


def _threads(args):
    import torch
    if args.threads is not None:
        torch.set_num_threads(args.threads)


def cmd_zoo(args) -> int:
    from . import zoo
    for name, entry in zoo.ZOO.items():
        print(f"{name:<18} input {'x'.join(map(str, entry.input_shape)):<10} data {entry.dataset:<8} "
              f"train {entry.epochs} epochs, lr {entry.lr:g}")
    return 0


def _data_name(args, model_name: str) -> str:
    from . import zoo
    if args.data:
        return args.data
    dataset = zoo.ZOO[model_name].dataset
    if dataset != "mnist5k":
        raise NetsimError(f"{model_name} is meant for {dataset}; give --data {dataset}:<dir> (nothing is downloaded)")
    return dataset


def cmd_train(args) -> int:
    from . import checkpoint, data, train, zoo
    checkpoint.check_writable(args.output)  # before the training, not after it
    _threads(args)
    model = zoo.build(args.model)
    name = args.model.lower()
    source = _data_name(args, name)
    train_set, test_set = _load_data(source, name, model)
    if args.limit:
        train_set = _first(train_set, args.limit)
    entry = zoo.ZOO[name]
    epochs = args.epochs if args.epochs is not None else entry.epochs
    lr = args.lr if args.lr is not None else entry.lr
    start = time.perf_counter()
    history = train.fit(model, data.loader(train_set, args.batch_size, shuffle=True, seed=args.seed),
                        epochs=epochs, lr=lr, seed=args.seed, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    from .network import evaluate
    accuracy = evaluate(model, data.loader(test_set, 500), progress=not args.no_progress)
    checkpoint.save(args.output, model, name, dataset=source, epochs=epochs, lr=lr,
                    batch_size=args.batch_size, seed=args.seed, test_accuracy=accuracy,
                    train_loss=history[-1]["loss"] if history else None, train_seconds=round(seconds, 1))
    print(f"{name}: {epochs} epochs on {source} ({len(train_set)} training samples) in {seconds:.1f} s; "
          f"fp32 test accuracy {accuracy:.4f} ({len(test_set)} samples); wrote {args.output}")
    return 0


def build_config(args) -> Config:
    config = Config.load(args.config) if args.config else Config()
    overrides = {k: v for k, v in (("multiplier", args.multiplier), ("adder", args.adder),
                                   ("w_bits", args.w_bits), ("a_bits", args.a_bits),
                                   ("weight_offset", args.weight_offset or None)) if v is not None}
    return config.with_default(**overrides) if overrides else config


def cmd_eval(args) -> int:
    from . import data, zoo
    from .network import calibrate, convert, describe, evaluate
    config = build_config(args)
    model = zoo.build(args.model, weights=args.weights)
    model.eval()
    source = _data_name(args, args.model.lower())
    train_set, test_set = _load_data(source, args.model.lower(), model)
    _threads(args)  # once the arguments are known to be good: a refused command changes nothing
    if args.limit:
        test_set = _first(test_set, args.limit)
    test_loader = data.loader(test_set, args.batch_size)
    progress = not args.no_progress
    calibration = calibrate(model, data.loader(train_set, args.batch_size),
                            batches=args.calibration_batches, progress=progress)
    if args.strict:  # before any evaluation: refused at once
        convert(model, config, calibration, strict=True)
    timings = {}
    start = time.perf_counter()
    fp32 = evaluate(model, test_loader, progress, "fp32")
    timings["fp32"] = time.perf_counter() - start
    exact_model = convert(model, config.exact(), calibration)
    start = time.perf_counter()
    quantized = evaluate(exact_model, test_loader, progress, "quantized-exact")
    timings["quantized_exact"] = time.perf_counter() - start
    approx_model = convert(model, config, calibration)
    start = time.perf_counter()
    approximate = evaluate(approx_model, test_loader, progress, "approximate")
    timings["approximate"] = time.perf_counter() - start
    table = describe(approx_model)
    from . import backend
    if args.json:
        print(json.dumps({"model": args.model, "weights": args.weights, "data": source, "samples": len(test_set),
                          "config": args.config, "accuracy": {"fp32": fp32, "quantized_exact": quantized,
                                                              "approximate": approximate},
                          "seconds": {k: round(v, 3) for k, v in timings.items()}, "backend": backend.name(),
                          "layers": table.rows, "left_exact": table.left_exact, "coverage": table.coverage},
                         indent=2))
        return 0
    print(f"{args.model} on {source} test split ({len(test_set)} samples), config {args.config or '(flags)'}")
    print(f"  fp32             {fp32:.4f}")
    print(f"  quantized exact  {quantized:.4f}")
    print(f"  approximate      {approximate:.4f}   ({timings['approximate']:.1f} s, {backend.name()})")
    print(table)
    return 0


def _load_data(source: str, name: str, model):
    """Both splits, checked against the model (image shape, class count) before any work is done."""
    from . import data, zoo
    splits = data.load(source, "train"), data.load(source, "test")
    for split, dataset in zip(("train", "test"), splits):
        zoo.check_data(name, model, dataset, f"{source} ({split} split)")
    classes = [getattr(d, "classes", None) for d in splits]
    if None not in classes and classes[0] != classes[1]:
        raise NetsimError(f"{source}: the train and test splits have different classes ({', '.join(classes[0])} "
                          f"versus {', '.join(classes[1])}), so their labels would not mean the same")
    return splits


def _first(dataset, count: int):
    from torch.utils.data import Subset
    return Subset(dataset, range(min(count, len(dataset))))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netsim", description="Approximate DNN evaluation: per-layer approximate multipliers "
                                                "and adders in PyTorch.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--data", type=options.nonempty,
                        help="mnist5k (embedded, default for mlp/lenet5), mnist:<dir>, cifar10:<dir> "
                             "or folder:<dir>")
    common.add_argument("--batch-size", type=options.count(), default=256)
    common.add_argument("--threads", type=options.threads, default=None,
                        help="torch threads (default: torch's choice)")
    common.add_argument("--no-progress", action="store_true", help="no progress bars")
    options.add_operator_directories(common)

    sub = commands.add_parser("zoo", help="list the zoo models")
    sub.set_defaults(func=cmd_zoo)

    sub = commands.add_parser("train", help="train a zoo model in float and write a checkpoint", parents=[common])
    sub.add_argument("model", help="zoo model name (see `netsim zoo`)")
    sub.add_argument("-o", "--output", required=True, type=options.output_file, help="checkpoint file to write")
    sub.add_argument("--epochs", type=options.epochs, help="default: the model's (see `netsim zoo`)")
    sub.add_argument("--lr", type=options.lr, help="peak learning rate; default: the model's (see `netsim zoo`)")
    sub.add_argument("--seed", type=options.seed, default=0)
    sub.add_argument("--limit", type=options.count(), help="train on the first N training samples only (quick tries)")
    sub.set_defaults(func=cmd_train, batch_size=64)

    sub = commands.add_parser("eval", help="accuracy fp32, quantized-exact and approximate, and the layer table",
                              parents=[common])
    sub.add_argument("model", help="zoo model name (see `netsim zoo`)")
    sub.add_argument("--weights", required=True, type=options.nonempty, help="checkpoint from `netsim train`")
    sub.add_argument("--config", type=options.nonempty, help="per-layer TOML configuration (see docs/netsim.md)")
    sub.add_argument("--multiplier", help="override [default] multiplier, e.g. M4P8")
    sub.add_argument("--adder", help="override [default] adder, e.g. LOA8")
    sub.add_argument("--w-bits", type=int)
    sub.add_argument("--a-bits", type=int)
    sub.add_argument("--weight-offset", action="store_true",
                     help="set [default] weight_offset: a multiplier with an unsigned weight port takes the weights "
                          "plus 2^(w_bits-1), removed exactly after the sum")
    sub.add_argument("--calibration-batches", type=options.count(), default=DEFAULT_CALIBRATION_BATCHES,
                     help=f"training batches for the activation ranges (default {DEFAULT_CALIBRATION_BATCHES})")
    sub.add_argument("--limit", type=options.count(), help="evaluate only the first N test samples")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--strict", action="store_true",
                     help="an error if any product-sum op is left exact (e.g. an LSTM), naming it")
    sub.set_defaults(func=cmd_eval)

    from .explore.cli import add_subcommands  # resilience, dse, search, report (light: no torch import)
    add_subcommands(commands)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)  # every value is checked here, by its type (netsim.options)
        with options.operator_directories(args):
            return args.func(args)
    except OpmodelsError as error:  # NetsimError and the operator errors (unknown ids)
        print(f"netsim: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
