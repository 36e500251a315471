#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: the layering contracts (import-linter), the
# default run, the wheel check (the package built, installed and used outside the checkout), then the
# slow exhaustive sweeps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
lint-imports
python3 -m pytest -m "not slow" "$@"
bash scripts/check_wheel.sh
python3 -m pytest -m slow "$@"
