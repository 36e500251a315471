#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: the default run, then the slow exhaustive sweeps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m pytest -m "not slow" "$@"
python3 -m pytest -m slow "$@"
