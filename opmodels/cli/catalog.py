"""Commands about the catalog's operators: ``list``, ``show``, ``gen-lut``, ``metrics``."""
from __future__ import annotations

import json
import time

from .. import artifacts, lut, opsdir
from ..catalog import catalog_ids, is_builtin, multipliers_8bit
from ..errors import OpmodelsError
from ..files import clean_temporaries, prepare_directory
from ..metrics import MAX_SAMPLES, NAMES
from .common import MAX_SEED, integer, operators, resolve


def cmd_list(args) -> int:
    known = catalog_ids()
    stored = [i for i in opsdir.ids(args.ops or None) if i not in known and not is_builtin(i)]
    rows = [(op, op.metrics()) for op in (resolve(args, i) for i in known + stored)]
    if args.json:
        print(json.dumps([{"id": op.id, "family": op.family, "kind": op.kind, "parameters": op.params,
                           "ir_hash": op.ir_hash, "metrics": m.as_dict()} for op, m in rows], indent=2))
        return 0
    print(f"{'id':<8} {'family':<8} {'kind':<10} {'NMED':>10} {'ER':>7}  parameters")
    for op, m in rows:
        params = " ".join(f"{k}={v}" for k, v in op.params.items())
        sampled = "" if m.exhaustive else "  (sampled)"
        print(f"{op.id:<8} {op.family:<8} {op.kind:<10} {m.NMED:>10.4e} {m.ER:>7.4f}  {params}{sampled}")
    return 0


def cmd_show(args) -> int:
    for op in operators(args, allow_all=False):
        m = op.metrics()
        counts = ", ".join(f"{k} {v}" for k, v in sorted(op.graph.op_counts().items()))
        print(f"{op.id}: {op.describe_ports()} {op.kind}, family {op.family}")
        print("parameters: " + (" ".join(f"{k}={v}" for k, v in op.params.items()) or "-"))
        print("ports: " + ", ".join(f"{p.name} {'signed' if p.signed else 'unsigned'} [{p.width - 1}:0]"
                                    for p in (op.a, op.b, op.y)))
        for line in _provenance(op.provenance):
            print(line)
        print(f"IR: {len(op.graph.nodes)} nodes ({counts}); hash {op.ir_hash}")
        if op.structure:
            print("structure:\n  " + op.structure.replace("\n", "\n  "))
        how = "exhaustive" if m.exhaustive else f"{m.pairs} samples, seed {m.seed}"
        print(f"metrics ({how}): " + "  ".join(f"{k} {_fmt(k, getattr(m, k))}" for k in NAMES))
    return 0


def _flat(value) -> str:
    """A provenance value on one line: ``k=v`` pairs for a mapping, commas for a list."""
    if isinstance(value, dict):
        return " ".join(f"{k}={_flat(v)}" for k, v in value.items()) if value else "-"
    if isinstance(value, list):
        return ", ".join(_flat(v) for v in value) if value else "-"
    return str(value)


def _provenance(provenance) -> list[str]:
    """Where the operator comes from, its source files with their sha256, and the proof it passed."""
    nested = {k: v for k, v in provenance.items() if isinstance(v, (dict, list)) and v and k != "proof"}
    lines = ["provenance: " + " ".join(f"{k}={_flat(v)}" for k, v in provenance.items()
                                       if k not in nested and k != "proof")]
    for key, value in nested.items():
        if key == "files":
            lines += [f"  file {f.get('name')}: sha256 {f.get('sha256')}, {f.get('bytes')} bytes" for f in value]
        else:
            lines.append(f"  {key}: {_flat(value)}")
    proof = provenance.get("proof")
    if isinstance(proof, dict):
        lines.append(f"proof: {'passed' if proof.get('passed') else 'FAILED'}, {proof.get('vectors')} vectors "
                     f"({proof.get('pairs')}), {proof.get('mismatches')} mismatches; {proof.get('method')}")
        lines.append(f"  tools: {_flat(proof.get('tools') or {})}; date {proof.get('date')}")
        for a, b, want, got in (proof.get("counterexamples") or [])[:5]:
            lines.append(f"  counterexample: a={a} b={b} imported={want} source={got}")
    return lines


def _fmt(name: str, value) -> str:
    return {"ER": f"{value:.4f}", "ME": f"{value:+.4f}", "MED": f"{value:.4f}", "WCE": f"{value}"}.get(name, f"{value:.4e}")


def cmd_gen_lut(args) -> int:
    ops = operators(args)
    for op in ops:  # every check before the first file is written
        if not op.has_lut:
            raise OpmodelsError(f"{op.id} has {op.a.width}- and {op.b.width}-bit operands; lookup tables exist "
                                f"for 8-bit operators only")
    formats = ("npy", "c") if args.format == "c" else ("npy",)
    directory = prepare_directory(args.output, [name for op in ops for name in artifacts.lut_files(op, formats)],
                                  option="-o")
    clean_temporaries(directory)  # of a run that was killed: this run rewrites every file of every operator
    start = time.perf_counter()
    for op in ops:
        artifacts.write_lut(op, directory, formats)
    print(f"wrote {len(ops)} table(s) to {directory}/ in {time.perf_counter() - start:.2f} s")
    return 0


def cmd_metrics(args) -> int:
    records = [(op, op.metrics(samples=args.samples, seed=args.seed)) for op in operators(args)]
    if args.json:
        print(json.dumps({op.id: m.as_dict() for op, m in records}, indent=2))
        return 0
    print(f"{'id':<10} {'ER':>7} {'ME':>11} {'MED':>11} {'NMED':>11} {'MRED':>11} {'WCE':>8}  pairs")
    for op, m in records:
        how = "all" if m.exhaustive else f"{m.pairs} sampled, seed {m.seed}"
        print(f"{op.id:<10} {m.ER:>7.4f} {m.ME:>+11.4f} {m.MED:>11.4f} {m.NMED:>11.4e} {m.MRED:>11.4e} "
              f"{m.WCE:>8}  {m.pairs} ({how})")
    return 0


def add_commands(commands) -> None:
    sub = commands.add("list", cmd_list, "every catalog operator (and those of --ops / $OPMODELS_OPS) with its family, parameters, NMED and ER", ids=False)
    sub.add_argument("--json", action="store_true")
    commands.add("show", cmd_show, "parameters, structure and error metrics of an operator")
    sub = commands.add("gen-lut", cmd_gen_lut, "write 256x256 lookup tables of 8-bit operators",
                       all_ids=lambda: ["EXACT", *multipliers_8bit()])
    sub.add_argument("-o", "--output", default="luts", help="output directory (default: luts)")
    sub.add_argument("--format", choices=lut.FORMATS, default="npy", help="npy (+json), or c: also a C header")
    sub = commands.add("metrics", cmd_metrics, "ER ME MED NMED MRED WCE (exhaustive for 8-bit, else sampled)",
                       all_ids=catalog_ids)
    sub.add_argument("--samples", type=integer(1, MAX_SAMPLES), default=None, help="sample this many uniform pairs")
    sub.add_argument("--seed", type=integer(0, MAX_SEED), default=0)
    sub.add_argument("--json", action="store_true")
