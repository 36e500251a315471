"""Explorations on top of netsim: resilience, multiplier DSE, fine-tuning, per-layer search, report.

Every evaluation is an independent, cached job (:mod:`.executor`); the sweeps are in :mod:`.sweeps`,
fine-tuning in :mod:`.finetune`, plots in :mod:`.plots` and the assembled document in :mod:`.report`.
Nothing heavy is imported here.
"""
