#!/usr/bin/env bash
# Sets everything up, then runs the main job on the embedded defaults into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
opmodels gen-lut --all -o out/luts
opmodels list | tee out/catalog.txt
# netsim: LeNet-5 on the embedded MNIST sample, evaluated fp32, quantized-exact and approximate
[ -f out/lenet5.pt ] || netsim train lenet5 -o out/lenet5.pt
netsim eval lenet5 --weights out/lenet5.pt --config examples/approx.toml | tee out/lenet5-eval.txt
