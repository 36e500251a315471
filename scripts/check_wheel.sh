#!/usr/bin/env bash
# The package works without the checkout: build a wheel, install it into a fresh virtual environment
# outside the repository, and from a directory that is not the repository verify two operators with
# cocotb + Icarus (benches and reference Verilog come from the wheel) and write a lookup table.
# The environment sees the machine's packages (numpy, cocotb, pyverilog), but opmodels is the wheel's.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/opmodels-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH  # nothing may lead back to the checkout

# Build from a copy, so no stale build/ of the checkout ends up in the wheel and nothing is written there.
mkdir "$work/src"
tar -C "$repo" --exclude=./.git --exclude=./build --exclude=./.tox --exclude='*.egg-info' \
    --exclude=__pycache__ -cf - . | tar -C "$work/src" -xf -
python3 -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/dist" "$work/src"
wheel=("$work"/dist/opmodels-*.whl)
echo "built ${wheel[0]##*/}"

python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-index --no-deps --ignore-installed "${wheel[0]}"

mkdir "$work/run"
cd "$work/run"
"$work/venv/bin/python" - "$work/venv" <<'PY'
import sys
from pathlib import Path

import opmodels
from opmodels.verification import HDL_DIR

venv = Path(sys.argv[1]).resolve()
print(f"opmodels imported from {opmodels.__file__}")
for path in (Path(opmodels.__file__), HDL_DIR / "opm_mac.v"):
    if venv not in path.resolve().parents or not path.is_file():
        sys.exit(f"check_wheel: {path} is not a file of the wheel installed in {venv}")
PY
"$work/venv/bin/opmodels" verify M4P8 LOA8
"$work/venv/bin/opmodels" verify EXACT --mac LOA6 --mac-rtl handwritten --streams 2 -k 8  # the wheel's HDL
"$work/venv/bin/opmodels" gen-lut M4P8 -o luts
test -s luts/M4P8.npy && test -s luts/M4P8.json
echo "check_wheel: the wheel verifies M4P8, LOA8 and the hand-written MAC and writes luts/M4P8.npy outside the checkout"
