#!/usr/bin/env bash
# The one GPU entry point. On a machine with a CUDA GPU: the tests marked gpu, then
# benchmarks/bench_cuda.py (layers and LeNet-5 / ResNet-18: time per call, ratio to torch fp32 and to
# the exact product, every result bit-equal to the CPU kernels), printed as one table; < 5 minutes.
# Without a GPU it says so and exits 2. GPU_CHECK_SIMULATE=1 runs the same steps under the CUDA
# simulator with tiny shapes (a check of this script's logic, not a measurement; tests do that).
#
#     benchmarks/gpu_check.sh [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
REPEAT=5
if [[ "${1:-}" == "--repeat" ]]; then REPEAT="${2:?--repeat needs a count}"; shift 2; fi
if [[ $# -gt 0 ]]; then echo "gpu_check: unknown argument '$1'; usage: benchmarks/gpu_check.sh [--repeat N]" >&2; exit 2; fi

if [[ "${GPU_CHECK_SIMULATE:-0}" == 1 ]]; then
    export NUMBA_ENABLE_CUDASIM=1
    echo "gpu_check: CUDA simulator (GPU_CHECK_SIMULATE=1): tiny shapes, a check of the script, not a measurement"
    TESTS=(-m cudasim -k "bad_input or out_argument")
    BENCH=(--tiny --repeat 1)
else
    if ! python3 -c "from numba import cuda; raise SystemExit(0 if cuda.is_available() else 1)" >/dev/null 2>&1; then
        echo "gpu_check: no CUDA GPU is present on this machine (numba.cuda.is_available() is False):" \
             "nothing was tested or measured. Run it on a machine with an NVIDIA GPU and its driver." >&2
        exit 2
    fi
    python3 -c "from numba import cuda; d = cuda.get_current_device(); n = d.name; print('gpu_check: GPU', n.decode() if isinstance(n, bytes) else n, 'compute capability', d.compute_capability)"
    TESTS=(-m gpu)
    BENCH=(--repeat "$REPEAT")
fi

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# -rs lists any skip: a gpu test that skips where a GPU is visible is a failure of this check
python3 -m pytest -q -p no:cacheprovider -rs "${TESTS[@]}" tests/opmodels/test_numba_cuda.py | tee "$LOG"
if grep -q "needs a CUDA GPU" "$LOG"; then
    echo "gpu_check: a gpu test skipped although a GPU is visible" >&2
    exit 1
fi
echo
python3 benchmarks/bench_cuda.py "${BENCH[@]}"
