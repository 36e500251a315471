#!/usr/bin/env bash
# Sets everything up, then runs the main job on the embedded defaults into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out out/ops
opmodels gen-lut --all -o out/luts
opmodels list | tee out/catalog.txt
# netsim: LeNet-5 on the embedded MNIST sample, evaluated fp32, quantized-exact and approximate
[ -f out/lenet5.pt ] || netsim train lenet5 -o out/lenet5.pt
netsim eval lenet5 --weights out/lenet5.pt --config examples/approx.toml | tee out/lenet5-eval.txt
# a sample of RTL co-verification (when the rtl part is installed: opmodels verify)
if opmodels verify --help >/dev/null 2>&1; then
    opmodels verify M4P8 LOA8 | tee out/verify.txt
fi
# an RTL multiplier in the style of a third-party library (examples/rtl/mul8s_acme.v: a flat gate netlist
# with ports A, B, O), imported as operator mul8s_acme into out/ops with its proof: Yosys synthesis,
# lowering to the IR, Icarus simulation of the source on all 65,536 pairs (docs/import.md)
if command -v iverilog >/dev/null 2>&1; then
    opmodels import examples/rtl/mul8s_acme.v --top mul8s_acme --port-a A --port-b B --port-y O -o out/ops \
        | tee out/import.txt
    opmodels show mul8s_acme --ops out/ops | tee -a out/import.txt
fi
# explorations on LeNet-5 (docs/explore.md): resilience of every technique, whole network and per layer
# (on half of the test set, to keep this script to minutes), the DSE before and after one
# short fine-tuning pass, the per-layer search, and the report. Results are cached in out/cache: a
# second run, or a run after an interruption, only computes what is missing.
netsim resilience lenet5 --weights out/lenet5.pt -o out --test-limit 500 --no-progress | tee out/resilience.txt
# the DSE covers the 42 catalog multipliers and, when it was imported above, mul8s_acme (out/ops)
multipliers="M1-M6,P2-P14"
if [ -f out/ops/mul8s_acme.json ]; then multipliers="$multipliers,mul8s_acme"; fi
netsim dse lenet5 --weights out/lenet5.pt -o out --ops out/ops --multipliers "$multipliers" \
    --finetune-epochs 1 --finetune-samples 1000 --no-progress | tee out/dse.txt
netsim search lenet5 --weights out/lenet5.pt -o out --min-accuracy 0.97 --trials 24 --population 8 \
    --test-limit 500 --no-progress | tee out/search.txt
netsim report out
