#!/usr/bin/env bash
# Sets everything up, then runs the main job on the embedded defaults into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
opmodels gen-lut --all -o out/luts
opmodels list | tee out/catalog.txt
