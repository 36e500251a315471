"""Per-layer mixed assignment search: which multiplier each layer gets, minimising cost at an accuracy
floor, with Optuna's NSGA-II (multi-objective: maximise accuracy, minimise cost; the floor is a
constraint). Trials are asked for a generation at a time and evaluated as parallel, cached jobs.

Cost of an assignment: the MAC-weighted relative multiplier area, sum_l MACs_l * area(m_l) /
sum_l MACs_l * area(exact); it is 1 for the exact network and is proportional to the multiplier
energy of a layer-by-layer accelerator whose multiplier area tracks its switching energy. All areas of
a search come from one source (:func:`~netsim.explore.cost.cost_source`), recorded in its summary.
"""
from __future__ import annotations

from ..config import Config
from ..errors import NetsimError
from . import analysis
from .cost import cost_source, relative_area
from .sweeps import Run, baseline_config, layer_names


def model_macs(spec) -> dict:
    """{layer name: MACs per sample} of the model ``spec`` names."""
    from .. import zoo
    from ..network import model_ops
    ops = model_ops(zoo.build(spec.name), zoo.ZOO[spec.name].input_shape)
    return {name: record.macs for name, record in ops.items() if record.reason is None}


def assignment_cost(assignment: dict, macs: dict, source: str) -> float:
    total = sum(macs.values())
    return sum(macs[name] * relative_area(m, source) for name, m in assignment.items()) / total


def assignment_config(assignment: dict) -> Config:
    """The configuration of an assignment; a uniform one is written as a [default] (the DSE's form, so
    its cached result is shared)."""
    config = baseline_config()
    if len(set(assignment.values())) == 1:
        return config.with_default(multiplier=next(iter(assignment.values())))
    for name, multiplier in assignment.items():
        config = config.with_layer(name, multiplier=multiplier)
    return config


def search(spec, choices: list, min_accuracy: float, run: Run | None = None, trials: int = 48,
           population: int = 12, seed: int = 0) -> dict:
    try:
        import optuna
    except ImportError:
        raise NetsimError("netsim search needs Optuna: pip install 'opmodels[explore]'") from None
    if not 0 < min_accuracy <= 1:
        raise NetsimError(f"--min-accuracy must be a fraction in (0, 1], not {min_accuracy}")
    if population < 2:
        raise NetsimError(f"--population must be at least 2, not {population}")
    run = run or Run()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    layers = layer_names(spec)
    macs = model_macs(spec)
    choices = list(dict.fromkeys(choices))
    source = cost_source()
    # the accuracy floor is an NSGA-II constraint (feasible when <= 0); Optuna 5 sets it on the trial
    per_trial_constraint = hasattr(optuna.trial.Trial, "set_constraint")
    options = {} if per_trial_constraint else {
        "constraints_func": lambda trial: [min_accuracy - trial.user_attrs["accuracy"]]}
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed, **options)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    # the search starts from uniform assignments (the exact network first, then choices spread over the
    # cost range; up to half of the trials): NSGA-II then recombines layers from the good ones
    for choice in _spread(choices, max(population, trials // 2), source):
        study.enqueue_trial({name: choice for name in layers})
    trials_out = []
    while len(trials_out) < trials:
        batch = [study.ask() for _ in range(min(population, trials - len(trials_out)))]
        assignments = [{name: t.suggest_categorical(name, choices) for name in layers} for t in batch]
        jobs = [run.job(spec, assignment_config(a), sweep="search") for a in assignments]
        results = run.jobs(jobs, f"search {len(trials_out) + len(batch)}/{trials}")
        for trial, assignment, result in zip(batch, assignments, results):
            cost = assignment_cost(assignment, macs, source)
            trial.set_user_attr("accuracy", result["accuracy"])
            if per_trial_constraint:
                trial.set_constraint("accuracy_floor", min_accuracy - result["accuracy"])
            study.tell(trial, (result["accuracy"], cost))
            trials_out.append({"trial": trial.number, "accuracy": result["accuracy"], "cost": cost,
                               "assignment": assignment, "feasible": result["accuracy"] >= min_accuracy})
    feasible = [t for t in trials_out if t["feasible"]]
    front = analysis.pareto_front(feasible)
    # one point per distinct assignment on the front
    unique = {tuple(sorted(p["assignment"].items())): p for p in front}
    front = sorted(unique.values(), key=lambda p: p["cost"])
    summary = {"min_accuracy": min_accuracy, "trials": len(trials_out), "population": population,
               "choices": choices, "layers": layers, "macs": macs, "sampler": "optuna NSGAIISampler",
               "cost_source": source,
               "cheapest_feasible": front[0] if front else None}
    return {"trials": trials_out, "front": front, "summary": summary}


def _spread(choices: list, count: int, source: str) -> list:
    """Up to ``count`` choices: "exact" (when offered) and then evenly spaced in order of cost."""
    ranked = sorted((c for c in choices if c.lower() != "exact"), key=lambda c: -relative_area(c, source))
    picked = ["exact"] if any(c.lower() == "exact" for c in choices) else []
    room = max(0, count - len(picked))
    if ranked and room:
        step = max(1, len(ranked) / room)
        picked += list(dict.fromkeys(ranked[int(i * step)] for i in range(min(room, len(ranked)))))
    return picked
