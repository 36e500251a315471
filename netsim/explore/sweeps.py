"""The explorations: resilience (whole network and per layer), the multiplier DSE, and the per-layer
mixed-assignment search. Each builds independent evaluation jobs, runs them through
:func:`~netsim.explore.executor.run_jobs` (cached, resumable) and returns plain rows for the tables,
plots and report.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from ..config import Config
from ..errors import NetsimError
from . import analysis
from .cost import cost_source, relative_cost
from .executor import ResultCache, run_jobs
from .jobs import Fingerprints, ModelSpec, check_result, evaluation_job, run_evaluation

BASE_BITS = 8
LOGICS = tuple(range(1, 7))  # M1..M6
DSE_P = tuple(range(2, 15, 2))  # P2..P14: with M1..M6 the 42 approximate multipliers
TECHNIQUES = ("w_bits", "a_bits", "multiplier", "adder")
# degree lists; bit widths are more aggressive when lower, P and LOA bits when higher
DEGREES = {"w_bits": tuple(range(BASE_BITS, 0, -1)), "a_bits": tuple(range(BASE_BITS, 0, -1)),
           "multiplier": DSE_P, "adder": tuple(range(2, 21, 2))}
MORE_IS_AGGRESSIVE = {"w_bits": False, "a_bits": False, "multiplier": True, "adder": True}


@dataclass
class Run:
    """How to run the jobs of an exploration.

    ``job_timeout``: seconds one job may take on the local executor (None, the default: no limit, as a
    job takes from a tenth of a second for LeNet-5 to hours for fine-tuning a ResNet on the CPU).
    """

    cache: ResultCache | None = None
    executor: str = "local"
    workers: int | None = None
    threads: int = 1
    address: str | None = None
    progress: bool = True
    test_limit: int | None = None
    batch_size: int = 256
    extra: dict = field(default_factory=dict)
    job_timeout: float | None = None
    # content hashes of the data and operators, computed once for all the jobs of this run
    fingerprints: Fingerprints = field(default_factory=Fingerprints, repr=False, compare=False)

    def jobs(self, jobs: list, desc: str) -> list:
        """Results of evaluation jobs, each labelled with its job's tags."""
        results = run_jobs(jobs, run_evaluation, self.cache, executor=self.executor, workers=self.workers,
                           threads=self.threads, address=self.address, progress=self.progress, desc=desc,
                           validate=check_result, timeout=self.job_timeout)
        return [{**result, **job.payload["_tags"]} for job, result in zip(jobs, results)]

    def job(self, spec, config, finetune=None, **tags):
        return evaluation_job(spec, config, finetune, batch_size=self.batch_size, test_limit=self.test_limit,
                              fingerprints=self.fingerprints, **tags)


def baseline_config() -> Config:
    return Config.uniform(multiplier="exact", adder="exact", w_bits=BASE_BITS, a_bits=BASE_BITS)


def parse_multipliers(text: str) -> list:
    """``"M1-M6,P2-P14"`` (ranges, P even) or a comma list of ids ``"M4P8,M2P14"`` -> catalog ids."""
    import re
    text = text.replace(" ", "")
    ranges = re.fullmatch(r"M(\d+)(?:-M(\d+))?,P(\d+)(?:-P(\d+))?", text, re.IGNORECASE)
    if ranges:
        m0, m1, p0, p1 = ranges.groups()
        m1, p1 = m1 or m0, p1 or p0
        ids = [f"M{m}P{p}" for m in range(int(m0), int(m1) + 1) for p in range(int(p0), int(p1) + 1)
               if p % 2 == 0]
    else:
        ids = [t.upper() for t in text.split(",") if t]
    import opmodels
    for op_id in ids:
        try:
            op = opmodels.get(op_id)
        except opmodels.OpmodelsError as error:
            raise NetsimError(f"--multipliers: {error}") from None
        if op.kind != "multiplier":
            raise NetsimError(f"--multipliers: {op_id} is an {op.kind}, not a multiplier")
    if not ids:
        raise NetsimError(f"--multipliers {text!r} names no multiplier; e.g. 'M1-M6,P2-P14' or 'M4P8,M2P14'")
    return ids


def layer_names(spec: ModelSpec) -> list:
    """Every product-sum op netsim simulates in the model (layers, and ops such as ``blocks.0.attn.qk``)."""
    from .. import zoo
    from ..network import model_ops
    ops = model_ops(zoo.build(spec.name), zoo.ZOO[spec.name].input_shape)
    return [name for name, record in ops.items() if record.reason is None]


def coverage(spec: ModelSpec, config=None) -> dict:
    """MACs per sample simulated vs left exact (with the ops left exact) of the model under ``config``."""
    from .. import zoo
    from ..network import coverage as network_coverage
    return network_coverage(zoo.build(spec.name), config or baseline_config(), zoo.ZOO[spec.name].input_shape)


def _technique_settings(technique: str, degree, logic=None) -> dict:
    if technique in ("w_bits", "a_bits"):
        return {technique: degree}
    if technique == "multiplier":
        return {"multiplier": f"M{logic}P{degree}"}
    if technique == "adder":
        return {"adder": f"LOA{degree}"}
    raise NetsimError(f"technique must be one of {', '.join(TECHNIQUES)}, not {technique!r}")


def resilience(spec: ModelSpec, techniques=TECHNIQUES, scopes=("network", "layers"), run: Run | None = None,
               tolerance: float = 0.0, logics=LOGICS, degrees: dict | None = None,
               blocks: dict | None = None) -> dict:
    """Accuracy versus degree, for the whole network at once and for one layer at a time.

    Returns {"baseline": result, "rows": [...], "table": [...]} where ``table`` holds, per scope (the
    network or a layer), technique and logic, the most aggressive degree with no loss beyond
    ``tolerance`` against the 8-bit exact baseline.
    """
    run = run or Run()
    degrees = {**DEGREES, **(degrees or {})}
    for technique in techniques:
        if technique not in TECHNIQUES:
            raise NetsimError(f"technique must be one of {', '.join(TECHNIQUES)}, not {technique!r}")
    layers = layer_names(spec)
    # scopes: the whole network, each layer, and named blocks (a glob over layer names, like the CB/FB/SC
    # clustering of VGG and ResNet: {"FB": "fc*"}), each approximated alone
    blocks = dict(blocks or {})
    for name, pattern in blocks.items():
        if name in layers or name == "network":
            raise NetsimError(f"block name {name!r} is already a layer name or 'network'; pick another")
        if not any(fnmatch.fnmatchcase(layer, pattern) for layer in layers):
            raise NetsimError(f"block {name} = {pattern!r} matches none of the layers: {', '.join(layers)}")
    matches = {**{layer: layer for layer in layers}, **blocks}
    targets = (["network"] if "network" in scopes else []) + (layers if "layers" in scopes else []) + list(blocks)
    jobs = [run.job(spec, baseline_config(), sweep="baseline", technique="baseline", scope="network",
                    logic="", degree=BASE_BITS)]
    for technique in techniques:
        groups = logics if technique == "multiplier" else ("",)
        for scope in targets:
            for logic in groups:
                for degree in degrees[technique]:
                    settings = _technique_settings(technique, degree, logic)
                    config = baseline_config()
                    config = config.with_default(**settings) if scope == "network" else \
                        config.with_layer(matches[scope], **settings)
                    jobs.append(run.job(spec, config, sweep="resilience", technique=technique, scope=scope,
                                        logic=f"M{logic}" if logic != "" else "", degree=degree))
    results = run.jobs(jobs, "resilience")
    baseline, rows = results[0], results[1:]
    _annotate(rows, baseline)
    table = []
    for technique in techniques:
        groups = [f"M{m}" for m in logics] if technique == "multiplier" else [""]
        for scope in targets:
            for logic in groups:
                subset = [r for r in rows if r["technique"] == technique and r["scope"] == scope
                          and r["logic"] == logic]
                best = analysis.highest_lossless(subset, baseline["accuracy"], tolerance, "degree",
                                                 MORE_IS_AGGRESSIVE[technique])
                table.append({"technique": technique, "scope": scope, "logic": logic,
                              "lossless_degree": best, "tolerance": tolerance})
    return {"baseline": baseline, "rows": rows, "table": table, "layers": layers + list(blocks),
            "noise": _noise(baseline), "coverage": coverage(spec)}


def _annotate(rows: list, baseline: dict) -> None:
    base_hits = analysis.unpack_hits(baseline["hits"])
    for row in rows:
        row["delta"] = row["accuracy"] - baseline["accuracy"]
        test = analysis.mcnemar(base_hits, analysis.unpack_hits(row["hits"]))
        row["mcnemar_p"] = test["p"]
        row["se"] = analysis.binomial_se(row["accuracy"], row["samples"])


def _noise(baseline: dict) -> dict:
    se = analysis.binomial_se(baseline["accuracy"], baseline["samples"])
    return {"samples": baseline["samples"], "baseline_accuracy": baseline["accuracy"], "binomial_se": se,
            "one_sample": 1 / baseline["samples"]}


def dse(spec: ModelSpec, multipliers: list, run: Run | None = None, finetune: dict | None = None,
        tolerance: float = 0.0) -> dict:
    """Every multiplier on every layer: accuracy (and after fine-tuning), cost, Pareto front, optimum."""
    run = run or Run()
    # one cost source for the whole table, and before the jobs, so that a synthesis error shows at once
    source = cost_source()
    costs = {m: relative_cost(m, source) for m in ["exact", *multipliers]}
    jobs = [run.job(spec, baseline_config(), sweep="dse", multiplier="exact", stage="before")]
    jobs += [run.job(spec, baseline_config().with_default(multiplier=m), sweep="dse", multiplier=m,
                     stage="before") for m in multipliers]
    if finetune:
        jobs += [run.job(spec, baseline_config(), finetune, sweep="dse", multiplier="exact", stage="after")]
        jobs += [run.job(spec, baseline_config().with_default(multiplier=m), finetune, sweep="dse",
                         multiplier=m, stage="after") for m in multipliers]
    results = run.jobs(jobs, "dse")
    by_key = {(r["multiplier"], r["stage"]): r for r in results}
    baseline = by_key[("exact", "before")]
    rows = []
    for m in ["exact", *multipliers]:
        before = by_key[(m, "before")]
        row = {"multiplier": m, "logic": "" if m == "exact" else m.split("P")[0],
               "p": 0 if m == "exact" else int(m.split("P")[1]),
               **costs[m],  # area, relative_area, energy, relative_energy
               "accuracy": before["accuracy"],
               "mcnemar_p": analysis.mcnemar(analysis.unpack_hits(baseline["hits"]),
                                             analysis.unpack_hits(before["hits"]))["p"],
               "seconds": before["seconds"]}
        if finetune:
            after = by_key[(m, "after")]
            row["accuracy_finetuned"] = after["accuracy"]
            row["finetune_seconds"] = after["seconds"]
        rows.append(row)
    summary = {"baseline_accuracy": baseline["accuracy"], "tolerance": tolerance,
               "cost_source": source, "noise": _noise(baseline), "finetune": finetune,
               "coverage": coverage(spec)}
    for stage, column in (("before", "accuracy"), ("after", "accuracy_finetuned")):
        if column not in rows[0]:
            continue
        points = [{"multiplier": r["multiplier"], "accuracy": r[column], "cost": r["relative_area"]} for r in rows]
        front = analysis.pareto_front(points)
        best = analysis.lossless_optimum(points, baseline["accuracy"], tolerance)
        summary[f"pareto_{stage}"] = [p["multiplier"] for p in front]
        summary[f"optimum_{stage}"] = None if best is None else {
            **best, "area_saving": 1 - best["cost"]}
    return {"rows": rows, "summary": summary, "baseline": baseline}
